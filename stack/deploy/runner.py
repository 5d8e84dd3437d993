"""One deploy, start to finish: pre-flight, plan, write, reload, verify, roll back, audit.

Order and why:
1. the validators of the parts being deployed run on the tree in --out (a tree that fails them
   never reaches a server: exit 1, nothing changed);
2. every target server must answer before anything is written (no half-deploy to a dead server);
3. the plan compares the tree with what each target has: nothing to do is said and audited;
4. targets are applied one after another (Prometheus, Alertmanager, the ruler, Grafana); each is snapshotted
   just before it is written, then written, reloaded and verified (Grafana: read back). On any
   failure every target changed so far is restored from its snapshot, newest first, and verified
   again, so the previous configuration goes on serving, and the deploy exits 1. "Any failure"
   is anything after the first write: a DeployError, an answer of unexpected shape, any other
   exception, SIGINT/SIGTERM, the deploy's deadline; the audit line is written in every case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from obstack.stack.deploy import files
from obstack.stack.deploy.audit import append_audit, audit_record
from obstack.stack.deploy.diff import unified_diff
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.grafana import GrafanaChange, GrafanaTarget
from obstack.stack.deploy.grafana_rollback import take_snapshot
from obstack.stack.deploy.http import Deadline
from obstack.stack.deploy.ruler import RulerChange, RulerTarget
from obstack.stack.deploy.signals import Interrupted, signals_ignored, signals_raise
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import LoadedSpec
from obstack.stack.validate.checks import Validator, run_validators, select_by_name
from obstack.stack.validate.validator import ValidationContext

# Validators (by the name `obstack validate` shows) that must pass before a part is deployed;
# spec and tree always run.
ALWAYS = ("spec", "tree")
PART_VALIDATORS: dict[str, tuple[str, ...]] = {
    "prometheus": ("promtool check rules", "promtool test rules", "rule lint"),
    "ruler": ("promtool check rules", "promtool test rules", "rule lint"),  # the same rules, elsewhere
    "alertmanager": ("amtool check-config", "amtool config routes test", "amtool template render", "inhibition"),
    "grafana": ("dashboard lint",),
}


# A target changed by this deploy and how to put it back: (name, restore returning what serves now).
Undo = tuple[str, Callable[[], str]]


class FileTarget(Protocol):
    name: str

    @property
    def directory(self) -> Path: ...
    @property
    def adopt(self) -> frozenset[str]: ...
    def wanted(self, out: Path) -> dict[str, str]: ...
    def check_reachable(self) -> None: ...
    def reload_and_verify(self, files: dict[str, str]) -> None: ...


@dataclass
class DeployRequest:
    loaded: LoadedSpec
    out: Path
    file_targets: list[FileTarget]
    grafana: GrafanaTarget | None
    audit_log: Path
    dry_run: bool = False
    diff_only: bool = False
    target_urls: dict[str, str] = field(default_factory=dict)  # for the audit line
    deadline: Deadline | None = None  # shared by the targets' clients; started after the pre-flight
    ruler: RulerTarget | None = None


@dataclass
class _Plan:
    file_changes: dict[str, list[files.FileChange]] = field(default_factory=dict)
    wanted: dict[str, dict[str, str]] = field(default_factory=dict)
    grafana_changes: list[GrafanaChange] = field(default_factory=list)
    ruler_changes: list[RulerChange] = field(default_factory=list)

    def changed(self) -> dict[str, list[str]]:
        result = {name: [f"{c.state} {c.path}" for c in changes] for name, changes in self.file_changes.items() if changes}
        if self.ruler_changes:
            result["ruler"] = [f"{c.state} group {c.group}" for c in self.ruler_changes]
        if self.grafana_changes:
            result["grafana"] = [f"{c.state} {c.kind} {c.label}" for c in self.grafana_changes]
        return result


def describe(error: BaseException) -> str:
    """One line for what stopped a step: a DeployError as is, a signal, or an unexpected exception."""
    if isinstance(error, Interrupted):
        return f"interrupted by {error}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted by SIGINT"
    if isinstance(error, DeployError):
        return str(error)
    return f"unexpected {type(error).__name__}: {' '.join(str(error).split())[:200]}"


def select_validators(parts: list[str]) -> tuple[Validator, ...]:
    return select_by_name([*ALWAYS, *(name for part in parts for name in PART_VALIDATORS.get(part, ()))], [])


class Deployer:
    """Runs one DeployRequest, reporting progress on ``console`` (stderr) and diffs on ``out``."""

    def __init__(self, request: DeployRequest, console: Console, out: Console) -> None:
        self.request = request
        self.console = console
        self.out = out
        self.parts = [t.name for t in request.file_targets] + (["ruler"] if request.ruler else []) + \
            (["grafana"] if request.grafana else [])
        self.current = ""  # the target being applied, for messages

    def step(self, text: str) -> None:
        self.console.print(f"[bold]•[/] {escape(text)}")

    def audit(self, plan: _Plan, result: str) -> None:
        record = audit_record(self.request.loaded.name, self.request.loaded.sha256, self.request.target_urls,
                              plan.changed(), result)
        append_audit(self.request.audit_log, record)

    def run(self) -> int:
        empty = _Plan()
        problems = self.preflight()
        if problems:
            for line in problems:
                print(line, file=self.console.file)
            self.audit(empty, "refused: pre-flight validators failed")
            self.console.print(f"deploy refused: the tree in {escape(str(self.request.out))} fails its validators; nothing changed")
            return 1
        if self.request.deadline is not None:
            self.request.deadline.start()
        try:
            with self.console.status("checking the servers answer"):
                for target in self.request.file_targets:
                    target.check_reachable()
                if self.request.ruler is not None:
                    self.request.ruler.check_reachable()
                if self.request.grafana is not None:
                    self.request.grafana.check_reachable()
            self.step(f"servers answer: {', '.join(self.parts)}")
            plan = self.plan()
        except (Exception, KeyboardInterrupt) as error:  # nothing is written yet: nothing to roll back
            self.audit(empty, f"failed: {describe(error)}")
            print(f"deploy failed: {describe(error)}; nothing changed", file=self.console.file)
            return 1
        if self.request.dry_run or self.request.diff_only:
            self.show(plan)
            return 0
        if not plan.changed():
            self.step(f"nothing to do: {', '.join(self.parts)} already have this tree")
            self.audit(plan, "nothing to do")
            return 0
        return self.apply(plan)

    def preflight(self) -> list[str]:
        validators = select_validators(self.parts)
        context = ValidationContext(self.request.out, self.request.loaded, generate(self.request.loaded))
        with self.console.status(f"pre-flight: {len(validators)} validators"):
            results = run_validators(context, validators)
        failed = [r for r in results if r.failed]
        if not failed:
            self.step(f"pre-flight: {len(results)} validators passed")
        return [f"{r.name}: {f}" for r in failed for f in r.findings if f.severity == "error"] or \
            [f"{r.name}: {r.status}" for r in failed]

    def plan(self) -> _Plan:
        plan = _Plan()
        for target in self.request.file_targets:
            plan.wanted[target.name] = target.wanted(self.request.out)
            plan.file_changes[target.name] = files.plan(target.directory, plan.wanted[target.name], target.adopt)
        if self.request.ruler is not None:
            plan.ruler_changes = self.request.ruler.plan(self.request.ruler.wanted(self.request.out))
        if self.request.grafana is not None:
            dashboards, datasources = self.request.grafana.wanted(self.request.out)
            message = f"obstack deploy of {self.request.loaded.name} ({self.request.loaded.sha256[:12]})"
            plan.grafana_changes = self.request.grafana.plan(dashboards, datasources, message)
        return plan

    def show(self, plan: _Plan) -> None:
        """The plan as a table (dry run) and a unified diff per file and per dashboard."""
        rows = [(name, c.path, c.state, c.old, c.new) for name, changes in plan.file_changes.items() for c in changes]
        rows += [("ruler", f"group {c.group}", c.state, c.old, c.new) for c in plan.ruler_changes]
        rows += [("grafana", f"{c.kind} {c.label}", c.state, c.old, c.new) for c in plan.grafana_changes]
        if not self.request.diff_only:
            table = Table(title="obstack deploy --dry-run")
            for column in ("target", "what", "change"):
                table.add_column(column)
            for target, what, state, _, _ in rows:
                table.add_row(escape(target), escape(what), state)
            self.console.print(table)
            self.step(f"{len(rows)} changes; nothing written (dry run)" if rows else "nothing to do (dry run)")
        for target, what, _, old, new in rows:
            self.out.file.write(unified_diff(f"{target}/{what}", old, new))
        self.out.file.flush()

    def apply(self, plan: _Plan) -> int:
        """Write, reload and verify every target as one transaction: whatever stops it after the
        first write (a DeployError, an unexpected answer or exception, SIGINT/SIGTERM, the deadline)
        rolls back every target changed so far and writes the audit line."""
        undo: list[Undo] = []
        self.current = ""
        failure: str | None = "stopped unexpectedly"
        try:
            with signals_raise():
                self.write_and_verify(plan, undo)
            failure = None
        except (Exception, KeyboardInterrupt) as error:
            failure = self.failure_message(error)
        finally:
            if failure is not None:
                self.fail(plan, undo, failure)
        if failure is not None:
            return 1
        self.audit(plan, "ok")
        self.step("deploy done: " + "; ".join(f"{k}: {len(v)} changes" for k, v in plan.changed().items()))
        return 0

    def write_and_verify(self, plan: _Plan, undo: list[Undo]) -> None:
        for target in self.request.file_targets:
            self.current = target.name
            changes = plan.file_changes[target.name]
            if not changes:
                continue
            undo.append((target.name, partial(self.restore_files, target,
                                              files.snapshot(target.directory, target.adopt))))
            files.write(target.directory, plan.wanted[target.name], target.adopt)
            self.step(f"{target.name}: wrote {len(changes)} files into {target.directory}")
            with self.console.status(f"{target.name}: reloading and verifying"):
                target.reload_and_verify(plan.wanted[target.name])
            self.step(f"{target.name}: reloaded; serving the new files")
        if self.request.ruler is not None and plan.ruler_changes:
            self.current = "ruler"
            self.apply_ruler(self.request.ruler, plan.ruler_changes, undo)
        if self.request.grafana is not None and plan.grafana_changes:
            self.current = "grafana"
            self.apply_grafana(self.request.grafana, plan.grafana_changes, undo)

    def failure_message(self, error: BaseException) -> str:
        """One line saying what stopped the deploy, naming the target it was at."""
        text = describe(error)
        return text if not self.current or text.startswith(self.current) else f"{self.current}: {text}"

    def fail(self, plan: _Plan, undo: list[Undo], failure: str) -> None:
        """Roll back (signals ignored, within a fresh deadline) and audit the failure."""
        with signals_ignored():
            if self.request.deadline is not None:
                self.request.deadline.start()
            rolled = self.roll_back(undo)
            self.audit(plan, f"failed: {failure}; {rolled}")
            print(f"deploy failed: {failure}; {rolled}", file=self.console.file)

    def apply_grafana(self, grafana: GrafanaTarget, changes: list[GrafanaChange], undo: list[Undo]) -> None:
        """Snapshot what the changes touch, save them, read them back; ``undo`` gets the way back."""
        with self.console.status(f"grafana: reading the {len(changes)} objects the changes touch"):
            saved = take_snapshot(grafana, changes)
        message = f"obstack rollback of a failed deploy of {self.request.loaded.name} ({self.request.loaded.sha256[:12]})"
        undo.append(("grafana", partial(saved.restore, grafana, message)))
        with self.console.status(f"grafana: saving {len(changes)} changes"):
            saved.apply(grafana, changes)
            grafana.verify(changes)
        self.step(f"grafana: saved {len(changes)} changes; Grafana serves them")

    def apply_ruler(self, ruler: RulerTarget, changes: list[RulerChange], undo: list[Undo]) -> None:
        """Snapshot the namespace, write the groups and the manifest, read them back."""
        with self.console.status(f"ruler: reading namespace {ruler.namespace}"):
            saved = ruler.take_snapshot()
        undo.append(("ruler", partial(saved.restore, ruler)))
        with self.console.status(f"ruler: saving {len(changes)} groups"):
            saved.apply(ruler, changes)
        self.step(f"ruler: saved {len(changes)} groups into namespace {ruler.namespace}; the ruler serves them")

    def restore_files(self, target: FileTarget, saved: files.Snapshot) -> str:
        files.restore(saved)
        target.reload_and_verify(saved.files)
        return f"{len(saved.files)} previous files serving"

    def roll_back(self, undo: list[Undo]) -> str:
        """Restore every changed target, newest first; say what serves now."""
        if not undo:
            return "nothing was changed"
        outcomes = []
        for name, restore in reversed(undo):
            try:
                with self.console.status(f"{name}: restoring what it had before"):
                    outcomes.append(f"{name} restored ({restore()})")
            except Exception as error:  # an unexpected answer must not stop the other restores
                outcomes.append(f"{name} ROLLBACK FAILED: {describe(error)}")
        return "rolled back: " + ", ".join(outcomes)
