"""The obstack command line: parse arguments, call the pipeline, print. No logic of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stack import __version__
from stack.pipeline import generate as generate_artifacts
from stack.spec.errors import SpecError
from stack.spec.loader import LoadedSpec, default_spec_text, load_spec
from stack.spec.model import Spec
from stack.validate.checks import run_validators
from stack.validate.findings import ValidationContext, ValidatorResult
from stack.writer import OutputError, WriteReport, check_tree, write_tree

EXIT_FAILED = 1  # the stack is not as it should be (drift, a failed validator)
EXIT_BAD_INPUT = 2  # the user's input cannot be used

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


def _load(spec: Path | None) -> LoadedSpec:
    try:
        return load_spec(spec)
    except SpecError as error:
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
    bool, typer.Option("--force", help="Replace files in --out that obstack did not write.")
] = False) -> None:
    """Generate every artifact of the spec into --out (atomic, deterministic, stale files removed)."""
    loaded = _load(spec)
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
def validate(spec: SpecOption = None, out: OutOption = Path("build")) -> None:
    """Run every validator on the generated tree in --out; exit 1 on any failure."""
    loaded = _load(spec)
    try:
        context = ValidationContext(out, loaded, generate_artifacts(loaded))
        results = run_validators(context)
    except OutputError as error:
        _fail([str(error)], EXIT_BAD_INPUT)
    _print_results(results)
    if any(result.failed for result in results):
        raise typer.Exit(EXIT_FAILED)


def _print_results(results: list[ValidatorResult]) -> None:
    table = Table(title="obstack validate")
    table.add_column("validator")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    colours = {"pass": "green", "fail": "red", "missing tool": "red"}
    for result in results:
        details = "\n".join(str(f) for f in result.findings) or result.summary
        table.add_row(escape(result.name), f"[{colours[result.status]}]{result.status}[/]", escape(details))
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


def main() -> None:
    app()
