"""The obstack command line: parse arguments, call the pipeline, print. No logic of its own."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from obstack.alerts.mutation import rule_mutants
from obstack.stack import __version__
from obstack.stack.pipeline import generate as generate_artifacts
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import LoadedSpec, default_spec_text, load_spec
from obstack.stack.spec.model import Spec
from obstack.stack.validate.checks import run_validators, select_by_name
from obstack.stack.validate.incremental import ValidationRecord
from obstack.stack.validate.mutation import BaselineFailed, ChangesUnknown, changed_rule_files, report_lines, run_mutants
from obstack.stack.validate.tools import ToolMissing
from obstack.stack.validate.validator import ValidationContext, ValidatorResult
from obstack.stack.writer import MANIFEST_NAME, OutputError, WriteReport, check_tree, write_tree

EXIT_FAILED = 1  # the stack is not as it should be (drift, a failed validator)
EXIT_BAD_INPUT = 2  # the user's input cannot be used
EXIT_NOT_RUNNING = 3  # `local status`: nothing was started (LSB's "program is not running")

app = typer.Typer(
    name="obstack",
    help="Observability and alerting as code: one stack spec to Prometheus, Alertmanager, Grafana, compose and Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecOption = Annotated[
    Optional[Path],
    typer.Option("--spec", "-s", help="Stack spec (YAML). Default: the embedded bookmark-api spec.", dir_okay=True),
]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Output directory of the generated tree.")]


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=False, width=max(100, Console().width))


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        print(line, file=sys.stderr)
    raise typer.Exit(code)


def _load(spec: Path | None, json_output: bool = False) -> LoadedSpec:
    try:
        return load_spec(spec)
    except SpecError as error:
        if json_output:  # CI reading stdout gets a document, not nothing
            print(json.dumps({"ok": False, "error": "bad spec", "problems": [str(p) for p in error.problems]}, indent=2))
        _fail([str(p) for p in error.problems], EXIT_BAD_INPUT)
        raise AssertionError("unreachable")  # _fail always exits


def _version(value: bool) -> None:
    if value:
        print(f"obstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """obstack turns one stack spec into a validated monitoring stack."""


@app.command()
def generate(spec: SpecOption = None, out: OutOption = Path("build"), check: Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 listing files that differ from the spec (CI drift check).")
] = False, force: Annotated[
    bool, typer.Option("--force", help="Replace or delete files in --out that obstack did not write or that were edited since.")
] = False, strict: Annotated[
    bool, typer.Option("--strict", help="Treat spec warnings (placeholder links) as errors: exit 2, write nothing.")
] = False) -> None:
    """Generate every artifact of the spec into --out (atomic, deterministic, stale files removed)."""
    loaded = _load(spec)
    for warning in loaded.warnings:
        print(f"{warning} (refused: --strict)" if strict else f"warning: {warning}", file=sys.stderr)
    if strict and loaded.warnings:
        raise typer.Exit(EXIT_BAD_INPUT)
    artifacts = generate_artifacts(loaded)
    try:
        if check:
            drift = check_tree(out, artifacts)
            if drift:
                _fail([f"{out / d.path}: {d.state}" for d in drift] + [f"{len(drift)} files out of date; run `obstack generate`"], EXIT_FAILED)
            print(f"{out}: {len(artifacts)} files match {loaded.name}")
            return
        report = write_tree(out, artifacts, force=force)
    except OutputError as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    _print_summary(out, artifacts, report, loaded)


def _print_summary(out: Path, artifacts: list, report: WriteReport, loaded: LoadedSpec) -> None:
    table = Table(title="obstack generate")
    table.add_column("artifact kind")
    table.add_column("files", justify="right")
    table.add_column("path")
    by_kind: dict[str, list[str]] = {}
    for artifact in artifacts:
        by_kind.setdefault(artifact.kind, []).append(artifact.path.as_posix())
    for kind, paths in by_kind.items():
        directories = sorted({f"{Path(p).parent.as_posix()}/" for p in paths})
        table.add_row(escape(kind), str(len(paths)), escape(", ".join(directories)))
    console = _stdout()
    console.print(table)
    # Plain prints: paths must stay whole (copyable), never wrapped by the table layout.
    print(f"{loaded.name} -> {out}/")
    print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )


@app.command()
def validate(
    spec: SpecOption = None,
    out: OutOption = Path("build"),
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", help="Run only this validator (repeatable), by its name in the table, e.g. 'rule lint'.")] = None,
    skip: Annotated[Optional[list[str]], typer.Option(
        "--skip", help="Skip this validator (repeatable), e.g. 'promtool test rules' while iterating.")] = None,
    output: Annotated[str, typer.Option("--format", help="table (default) or json (for CI).")] = "table",
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on warnings too (exit 1), not only on errors.")] = False,
    changed: Annotated[bool, typer.Option(
        "--changed", help="Run only the checks whose inputs changed since they last passed (rule and test "
        "files one by one); the rest are reused from the record in --out.")] = False,
) -> None:
    """Run every validator on the generated tree in --out; exit 1 on an error (with --strict, on a warning too)."""
    if output not in ("table", "json"):
        _fail([f"--format {output}: use table or json"], EXIT_BAD_INPUT)
    try:
        validators = select_by_name(only or [], skip or [])
    except ValueError as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    loaded = _load(spec, json_output=output == "json")
    if not (out / MANIFEST_NAME).is_file():
        message = f"{out}: no generated tree (no {MANIFEST_NAME}); run `obstack generate --out {out}` first"
        if output == "json":
            print(json.dumps({"ok": False, "error": message}, indent=2))
        _fail([message], EXIT_FAILED)
    try:
        record = ValidationRecord.load(out, loaded.sha256, reuse=changed)
        context = ValidationContext(out, loaded, generate_artifacts(loaded), record)
        results = run_validators(context, validators)
    except OutputError as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    if output == "json":
        print(json.dumps(validation_report(results, strict), indent=2))
    else:
        _print_results(results, strict)
    if any(result.fails(strict) for result in results):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def mutate(
    out: OutOption = Path("build"),
    files: Annotated[Optional[list[str]], typer.Option(
        "--file", help="Mutate only this rule file (repeatable), e.g. services.yml: the files a change touched.")] = None,
    min_kill_rate: Annotated[float, typer.Option(
        "--min-kill-rate", help="Exit 1 when fewer of the mutants are killed (0..1).", min=0, max=1)] = 0.95,
    jobs: Annotated[Optional[int], typer.Option("--jobs", help="promtool processes at once (default: one per core).",
                                                min=1)] = None,
    changed_since: Annotated[Optional[str], typer.Option(
        "--changed-since", metavar="REV",
        help="Mutate only the rule files that differ from git revision REV (HEAD: uncommitted changes).")] = None,
) -> None:
    """Mutation-test the generated rules in --out: apply plausible mistakes to each rule, one at a
    time, run the generated promtool tests that can see it, and report the share rejected and
    every survivor (docs/alerting.md, "Mutation testing")."""
    rules = out / "prometheus" / "rules"
    if not rules.is_dir():
        _fail([f"{rules}: no generated rule files; run `obstack generate --out {out}` first"], EXIT_BAD_INPUT)
    known = sorted(p.name for p in rules.glob("*.yml"))
    unknown = sorted(set(files or []) - set(known))
    if unknown:
        _fail([f"--file {unknown[0]}: not a generated rule file (known: {', '.join(known)})"], EXIT_BAD_INPUT)
    if changed_since is not None:
        try:
            changed = changed_rule_files(rules, changed_since)
        except (ToolMissing, ChangesUnknown) as error:
            _fail([str(error)], EXIT_BAD_INPUT)
        files = [name for name in changed if not files or name in files]
        if not files:
            print(f"no rule file in {rules} changed since {changed_since}: nothing to mutate")
            return
    mutants = [m for name in (files or known) for m in rule_mutants(name, yaml.safe_load((rules / name).read_text()))]
    try:
        report = run_mutants(out, mutants, jobs)
    except (ToolMissing, BaselineFailed) as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    for line in report_lines(report):
        print(line)
    if report.kill_rate < min_kill_rate:
        raise typer.Exit(EXIT_FAILED)


def validation_report(results: list[ValidatorResult], strict: bool = False) -> dict[str, object]:
    """The results as one JSON document: overall verdict and counts, then each validator and its findings."""
    return {
        "ok": not any(result.fails(strict) for result in results),
        "strict": strict,
        "errors": sum(result.count("error") for result in results),
        "warnings": sum(result.count("warning") for result in results),
        "seconds": round(sum(result.seconds for result in results), 3),
        "validators": [
            {"name": r.name, "status": r.status_for(strict), "seconds": round(r.seconds, 3), "summary": r.summary,
             "reused": r.reused,
             "findings": [{"severity": f.severity, "file": f.file, "location": f.location, "message": f.message}
                          for f in r.findings]}
            for r in results
        ],
    }


def validation_summary(results: list[ValidatorResult], strict: bool) -> str:
    """'17 validators in 41.3s: 0 errors, 100 warnings (they fail only with --strict)'."""
    total = sum(result.seconds for result in results)
    errors = sum(result.count("error") for result in results)
    warnings = sum(result.count("warning") for result in results)
    reused = sum(result.reused for result in results)
    line = f"{_count(len(results), 'validator')} in {total:.1f}s"
    line += f" ({reused} reused, --changed)" if reused else ""
    line += f": {_count(errors, 'error')}, {_count(warnings, 'warning')}"
    if warnings:
        line += " (--strict: they fail)" if strict else " (they fail only with --strict)"
    return line


def _print_results(results: list[ValidatorResult], strict: bool) -> None:
    table = Table(title="obstack validate", caption=validation_summary(results, strict))
    table.add_column("validator")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("details", overflow="fold")
    colours = {"pass": "green", "warn": "yellow", "fail": "red", "missing tool": "red"}
    for result in results:
        details = "\n".join(str(f) for f in result.findings) or result.summary
        status = result.status_for(strict)
        table.add_row(escape(result.name), f"[{colours[status]}]{status}[/]", f"{result.seconds:.1f}s",
                      escape(details))
    _stdout().print(table)


@app.command()
def docs(spec: SpecOption = None, out: OutOption = Path("build")) -> None:
    """Write only the generated docs (docs/alerts.md, docs/stack.md) into --out; other files are kept."""
    loaded = _load(spec)
    artifacts = [a for a in generate_artifacts(loaded) if a.kind == "docs"]
    try:
        report = write_tree(out, artifacts, prune=False)
    except OutputError as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    _print_summary(out, artifacts, report, loaded)


@app.command()
def schema() -> None:
    """Print the spec's JSON Schema (for editor completion and CI checks)."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "obstack stack spec", **Spec.model_json_schema()}
    print(json.dumps(document, indent=2, sort_keys=False))


@app.command()
def init(path: Annotated[Path, typer.Argument(help="Where to write the starter spec.")] = Path("stack.yaml"), force: Annotated[
    bool, typer.Option("--force", help="Overwrite an existing file.")
] = False) -> None:
    """Write a commented starter spec (the bookmark-api default) to PATH."""
    if path.is_dir():
        _fail([f"{path}: is a directory; give a file name such as {path / 'stack.yaml'}"], EXIT_BAD_INPUT)
    if path.exists() and not force:
        _fail([f"{path}: already exists; pass --force to overwrite it"], EXIT_BAD_INPUT)
    try:
        path.write_text(default_spec_text(), encoding="utf-8")
    except OSError as error:
        _fail([f"{path}: cannot write: {error.strerror}"], EXIT_BAD_INPUT)
    print(f"wrote {path}; edit it, then run `obstack generate --spec {path}`")


@app.command()
def exporter(spec: SpecOption = None, listen: Annotated[
    Optional[str], typer.Option("--listen", "-l", help="HOST:PORT to listen on (default: the spec's exporter.listen, 127.0.0.1:9477).")
] = None, web_config: Annotated[
    Optional[Path], typer.Option("--web-config", help="exporter-toolkit web config: TLS and basic auth (bcrypt).", dir_okay=False)
] = None) -> None:
    """Run the exporter: probe the spec's datastores, queues and health URLs; serve /metrics and /health."""
    from obstack.exporters.app import run_exporter  # the probes' client libraries load only for this command
    from obstack.exporters.webconfig import WebConfigError

    loaded = _load(spec)
    try:
        run_exporter(loaded.spec, listen=listen, web_config=web_config)
    except (WebConfigError, ValueError) as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    except OSError as error:
        _fail([f"cannot listen on {listen or loaded.spec.exporter.listen}: {error.strerror}"], EXIT_BAD_INPUT)


def main() -> None:
    app()


# ---------------------------------------------------------------------------------------------
# Deploy, drill and the webhook receiver (stack/deploy/, stack/drill.py, stack/receiver.py)


@app.command()
def receiver(listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on.")] = "127.0.0.1:9095",
             record: Annotated[Optional[Path], typer.Option("--record", help="Append every notification to this JSON-lines file.")] = None) -> None:
    """Receive Alertmanager webhooks (payload version 4): validate, print one line each, optionally record."""
    from obstack.stack.receiver import ReceiverServer, parse_listen

    # SIGTERM (`obstack local down`, a supervisor) stops it as Ctrl-C does: socket closed, exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        host, port = parse_listen(listen)
        server = ReceiverServer(host, port, record)
    except ValueError as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    except OSError as error:
        _fail([f"--listen {listen}: cannot listen: {error.strerror}"], EXIT_BAD_INPUT)
    try:
        server.serve_forever(lambda url: print(f"obstack receiver listening on {url}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        pass


@app.command()
def deploy(
    spec: SpecOption = None,
    out: OutOption = Path("build"),
    prometheus: Annotated[Optional[str], typer.Option("--prometheus", help="Prometheus URL (with --rules-dir).")] = None,
    rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", help="Directory Prometheus loads rule files from.")] = None,
    alertmanager: Annotated[Optional[str], typer.Option("--alertmanager", help="Alertmanager URL (with --alertmanager-config).")] = None,
    alertmanager_config: Annotated[Optional[Path], typer.Option("--alertmanager-config", help="The config file Alertmanager loads.")] = None,
    grafana: Annotated[Optional[str], typer.Option("--grafana", help="Grafana URL; token from GRAFANA_TOKEN or --grafana-token-file.")] = None,
    grafana_token_file: Annotated[Optional[Path], typer.Option("--grafana-token-file", help="File holding the Grafana token.")] = None,
    ruler: Annotated[Optional[str], typer.Option("--ruler", help="Mimir/Cortex ruler URL with its Prometheus prefix, e.g. http://mimir:8080/prometheus.")] = None,
    ruler_namespace: Annotated[Optional[str], typer.Option("--ruler-namespace", help="Rule namespace to write into. Default: deploy.ruler.namespace, else obstack-<project>.")] = None,
    ruler_tenant: Annotated[Optional[str], typer.Option("--ruler-tenant", help="Tenant (X-Scope-OrgID). Default: deploy.ruler.tenant.")] = None,
    ruler_token_file: Annotated[Optional[Path], typer.Option("--ruler-token-file", help="File holding the ruler's bearer token (else RULER_TOKEN).")] = None,
    generate_first: Annotated[bool, typer.Option("--generate", help="Regenerate --out from the spec first.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change (table and diffs); change nothing.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff of what would change; change nothing.")] = False,
    audit_log: Annotated[Optional[Path], typer.Option("--audit-log", help="Audit trail (JSON lines). Default: deploy.audit_log, else ~/.local/state/obstack/deploy-audit.jsonl.")] = None,
) -> None:
    """Deploy --out to Prometheus, Alertmanager, a ruler and Grafana; verify, roll back on failure, audit."""
    from obstack.stack.deploy.audit import audit_log_path
    from obstack.stack.deploy.errors import DeployError
    from obstack.stack.deploy.runner import Deployer, DeployRequest
    from obstack.stack.deploy.targets import TargetOptions, deploy_deadline, deploy_settings, resolve_targets

    loaded = _load(spec)
    options = TargetOptions(prometheus, rules_dir, alertmanager, alertmanager_config, grafana, grafana_token_file,
                            ruler, ruler_namespace, ruler_tenant, ruler_token_file)
    deadline = deploy_deadline(deploy_settings(loaded.spec))
    try:
        targets = resolve_targets(loaded.spec, options, deadline)
        if generate_first:
            write_tree(out, generate_artifacts(loaded))
    except (ValueError, DeployError, OutputError) as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    if not out.is_dir():
        _fail([f"{out}: no generated tree; run `obstack generate --out {out}` or pass --generate"], EXIT_BAD_INPUT)
    request = DeployRequest(loaded, out, targets.files, targets.grafana,
                            audit_log or audit_log_path(deploy_settings(loaded.spec).audit_log), dry_run, diff and not dry_run,
                            targets.urls, deadline, targets.ruler)
    progress = Console(stderr=True, highlight=False)
    code = Deployer(request, progress, _stdout()).run()
    raise typer.Exit(code)


@app.command()
def drill(
    spec: SpecOption = None,
    alertmanager: Annotated[Optional[str], typer.Option("--alertmanager", help="Alertmanager URL. Default: deploy.alertmanager.url.")] = None,
    receiver_url: Annotated[str, typer.Option("--receiver", help="URL of the `obstack receiver` the webhooks reach.")] = "http://127.0.0.1:9095",
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds to wait for each route. Default: group_wait + 30.")] = None,
    allow_real_receivers: Annotated[bool, typer.Option(
        "--allow-real-receivers", help="Also drill routes to PagerDuty, Slack or e-mail receivers (they notify people).")] = False,
) -> None:
    """Send a synthetic alert down every route, wait until each reaches its receiver, resolve; exit 1 if one does not."""
    from obstack.stack.deploy.errors import DeployError
    from obstack.stack.deploy.http import HttpClient
    from obstack.stack.deploy.targets import deploy_settings, http_settings
    from obstack.stack.drill import drill_cases, new_run_id, real_receivers, run_drill

    loaded = _load(spec)
    settings = deploy_settings(loaded.spec)
    url = alertmanager or settings.alertmanager.url
    if not url:
        _fail(["no Alertmanager to drill: give --alertmanager URL (or deploy.alertmanager.url in the spec)"], EXIT_BAD_INPUT)
    wait = timeout if timeout is not None else loaded.spec.notifications.group_wait.seconds + 30
    cases, problems = drill_cases(loaded.spec, new_run_id())
    real = real_receivers(loaded.spec, cases)
    if real and not allow_real_receivers:
        _fail([f"{loaded.name}: notifications.receivers: drill would send synthetic alerts to {', '.join(real)}, "
               "which notify people; drill a spec whose receivers are webhooks, or pass --allow-real-receivers"],
              EXIT_BAD_INPUT)
    http = http_settings(settings)
    try:
        with Console(stderr=True).status(f"drill: {len(cases)} routes, waiting up to {wait:g}s"):
            results = run_drill(cases, HttpClient(url, "alertmanager", http), HttpClient(receiver_url, "obstack receiver", http), wait)
    except DeployError as error:
        _fail([f"drill failed: {error}"], EXIT_FAILED)
    table = Table(title="obstack drill")
    for column in ("route", "receiver", "result", "latency"):
        table.add_column(column)
    for result in results:
        colour = "green" if result.delivered else "red"
        latency = f"{result.latency:.1f}s" if result.latency is not None else "-"
        table.add_row(escape(result.case.route), escape(result.case.receiver), f"[{colour}]{escape(result.detail)}[/]", latency)
    _stdout().print(table)
    for problem in problems:
        print(problem, file=sys.stderr)
    failed = [r for r in results if not r.delivered]
    print(f"{len(results) - len(failed)} of {len(results)} routes delivered")
    if failed or problems:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def verify(
    spec: SpecOption = None,
    prometheus: Annotated[Optional[str], typer.Option(
        "--prometheus", help="URL of the Prometheus that scrapes the services. Default: deploy.prometheus.url.")] = None,
) -> None:
    """Check a running Prometheus against the spec: every series the rules and dashboards read exists
    for each service's job, with the labels they read and the spec's buckets; exit 1 on any problem."""
    from obstack.stack.deploy.errors import DeployError
    from obstack.stack.deploy.http import HttpClient
    from obstack.stack.deploy.targets import deploy_settings, http_settings
    from obstack.stack.verify import verify as check

    loaded = _load(spec)
    settings = deploy_settings(loaded.spec)
    url = prometheus or settings.prometheus.url
    if not url:
        _fail(["no Prometheus to verify against: give --prometheus URL (or deploy.prometheus.url in the spec)"],
              EXIT_BAD_INPUT)
    try:
        findings = check(loaded.spec, HttpClient(url, "prometheus", http_settings(settings)), loaded.name)
    except DeployError as error:
        _fail([f"verify: {error}"], EXIT_BAD_INPUT)
    for finding in findings:
        print(f"{finding.file}: {finding.location}: {finding.message}")
    services = len(loaded.spec.services)
    if findings:
        print(f"{_count(len(findings), 'problem')} in what {url} holds for {_count(services, 'service')}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILED)
    print(f"{url} holds every series the rules and dashboards of {_count(services, 'service')} read")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# ---------------------------------------------------------------------------------------------
# The stack as local processes, without Docker (stack/local.py)

local_app = typer.Typer(help="Run the monitoring stack locally from the installed binaries (no Docker).",
                        no_args_is_help=True)
app.add_typer(local_app, name="local")
StateDirOption = Annotated[Path, typer.Option("--state-dir", help="Where the tree, configs, data, logs and pid files live.")]
DEFAULT_STATE_DIR = Path(".obstack-local")


@local_app.command("up")
def local_up(spec: SpecOption = None, state_dir: StateDirOption = DEFAULT_STATE_DIR, fast: Annotated[
    bool, typer.Option("--fast", help="Divide intervals, for: durations, range windows and Alertmanager timers by 60 (docs/local.md).")
] = False) -> None:
    """Generate into --state-dir and start receiver, Alertmanager, exporter and Prometheus, each waited on until ready."""
    from obstack.stack.local import LocalError, up

    loaded = _load(spec)
    try:
        processes = up(loaded, spec, state_dir, fast=fast)
    except (LocalError, OutputError) as error:
        _fail([str(error)], EXIT_FAILED)
    for process in processes:
        print(f"{process.name:<13} pid {process.pid:<8} {process.url}")
    prometheus = next((p.url for p in processes if p.name == "prometheus"), None)
    if prometheus:
        _local_verify(loaded, prometheus)


def _local_verify(loaded: LoadedSpec, url: str) -> None:
    """`obstack verify` on the fresh local stack (every job has been scraped once): what it found,
    as information; a service that has served no request yet has no request series."""
    from obstack.stack.deploy.errors import DeployError
    from obstack.stack.deploy.http import HttpClient, HttpSettings
    from obstack.stack.verify import verify as check

    try:
        findings = check(loaded.spec, HttpClient(url, "prometheus", HttpSettings(timeout=5, retries=1)))
    except DeployError as error:
        print(f"verify: skipped: {error}")
        return
    for finding in findings:
        print(f"verify: {finding.location}: {finding.message}")
    print(f"verify: {_count(len(findings), 'problem')}" + (
        f" (a service that has served no request yet shows here too: run `obstack verify --prometheus {url}` "
        "again once it has traffic)" if findings else ": every series the rules and dashboards read is there"))


@local_app.command("down")
def local_down(state_dir: StateDirOption = DEFAULT_STATE_DIR) -> None:
    """Stop exactly the processes `obstack local up` started in --state-dir."""
    from obstack.stack.local import down

    stopped = down(state_dir)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@local_app.command("status")
def local_status(state_dir: StateDirOption = DEFAULT_STATE_DIR) -> None:
    """Each process of the local stack: pid, running, ready; exit 1 unless all are ready, 3 when nothing
    was started in --state-dir."""
    from obstack.stack.local import status

    rows = status(state_dir)
    if not rows:
        up = "obstack local up" + ("" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {state_dir}")
        print(f"nothing is running under {state_dir}: start it with `{up}`")
        raise typer.Exit(EXIT_NOT_RUNNING)
    table = Table(title=f"obstack local ({state_dir})")
    for column in ("process", "pid", "running", "ready", "url"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.name, str(row.pid), "yes" if row.running else "[red]no[/]",
                      "yes" if row.ready else "[red]no[/]", row.url)
    _stdout().print(table)
    if not all(row.ready for row in rows):
        raise typer.Exit(EXIT_FAILED)
