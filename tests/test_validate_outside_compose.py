"""100 services that run outside docker-compose, on Kubernetes or other hosts, through the real CLI
and the real promtool and docker-compose.

As such a team writes the spec first (nothing says where the services run), `obstack validate`
passes it and prints the compose lint's warning for each service; `--strict` fails it. Once each
service says where it runs (`runs_on`), the compose lint has nothing left to warn about and
`--strict` passes. (On the whole tree `--strict` would still fail this spec: the rule lint warns
that the 2s latency threshold lies between prom-client's default buckets.)

Only the validators where a service's place shows are run (`--only`): the spec and the tree, the
scrape jobs (`promtool check config`, also as the compose container sees it) and the compose file
(`docker-compose config`, `compose lint`). The others check the rules, their tests, the routes and the
dashboards, which are the same wherever a service runs, and cost most of the time (`promtool test
rules` above all: 112 s of the 131 s every validator took on 100 services, docs/benchmarks.md).
The Kubernetes objects of the second spec are checked by their content here; the Kubernetes
validators run on a small spec of each kind in tests/test_kubernetes.py.

The CLI runs in this process (typer's runner) so that each spec is generated once: `validate`
generates the tree again to compare it with the one on disk, and 100 services took 14 s of CPU
to generate on a busy 2-core machine, the same each time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from obstack.stack import cli as stack_cli
from obstack.stack.cli import app
from obstack.stack.spec.loader import LoadedSpec
from tests.support.servers import require_binary

pytestmark = pytest.mark.long_running(40)  # seconds in one process: scheduled first (tests/conftest.py)

SERVICES = 100
VALIDATORS = ("spec", "tree", "promtool check config", "docker-compose config", "compose lint",
              "promtool check config (compose)")


def fleet_spec(says_where: bool) -> str:
    """SERVICES services; with ``says_where`` the even ones run on Kubernetes, the odd ones on other hosts."""
    # Real runbook and Grafana addresses: the placeholders would be warnings of their own.
    lines = ["project: fleet", "runbook_url: https://runbooks.fleet.internal/{project}/{alert}",
             "grafana: {url: 'https://grafana.fleet.internal'}", "services:"]
    for index in range(SERVICES):
        name = f"svc-{index:04d}"
        lines += [f"  - name: {name}", f"    targets: [{name}:3001]"]
        if says_where:
            lines.append(f"    runs_on: {'kubernetes' if index % 2 == 0 else 'external'}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def generated_once() -> Iterator[None]:
    """The CLI's generation, remembered per spec text for this module."""
    generate = stack_cli.generate_artifacts
    artifacts: dict[str, list] = {}

    def remembered(loaded: LoadedSpec) -> list:
        if loaded.text not in artifacts:
            artifacts[loaded.text] = generate(loaded)
        return artifacts[loaded.text]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stack_cli, "generate_artifacts", remembered)
        yield


def obstack(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def generated(root: Path, says_where: bool) -> tuple[Path, Path]:
    require_binary("promtool", "prometheus")
    require_binary("docker-compose", "docker-compose")
    root.mkdir()
    spec, out = root / "stack.yaml", root / "build"
    spec.write_text(fleet_spec(says_where))
    result = obstack("generate", "--spec", str(spec), "--out", str(out))
    assert result.exit_code == 0, result.output
    return spec, out


def validate(spec: Path, out: Path, *flags: str) -> Result:
    only = [argument for name in VALIDATORS for argument in ("--only", name)]
    return obstack("validate", "--spec", str(spec), "--out", str(out), *only, *flags)


def test_services_outside_compose_pass_with_their_warnings_and_fail_strict(tmp_path: Path) -> None:
    spec, out = generated(tmp_path / "as-written", says_where=False)

    table = validate(spec, out)
    assert table.exit_code == 0, table.output
    lint = next(line for line in table.output.splitlines() if line.startswith("│ compose lint"))
    assert "│ warn " in lint
    assert table.output.count("│ pass ") == len(VALIDATORS) - 1
    assert f"{len(VALIDATORS)} validators in " in table.output
    assert f": 0 errors, {SERVICES} warnings (they fail only with --strict)" in table.output
    assert table.output.count("│ warning: ") == SERVICES  # each finding starts a line of the details

    strict = validate(spec, out, "--strict", "--format", "json")
    assert strict.exit_code == 1, strict.output
    report = json.loads(strict.output)
    assert (report["ok"], report["strict"], report["errors"], report["warnings"]) == (False, True, 0, SERVICES)
    statuses = {v["name"]: v["status"] for v in report["validators"]}
    assert statuses == {name: "fail" if name == "compose lint" else "pass" for name in VALIDATORS}
    findings = next(v for v in report["validators"] if v["name"] == "compose lint")["findings"]
    assert {f["severity"] for f in findings} == {"warning"}
    assert [f["location"] for f in findings] == [f"services[{index}]" for index in range(SERVICES)]
    assert findings[7]["message"] == (
        "job svc-0007: target svc-0007:3001 is not a compose service: 'svc-0007' runs on compose (the default) but "
        "has no compose.apps entry; add one, or set its runs_on to kubernetes or external")


def test_services_that_say_where_they_run_pass_strict(tmp_path: Path) -> None:
    spec, out = generated(tmp_path / "says-where", says_where=True)
    result = validate(spec, out, "--strict", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["ok"], report["errors"], report["warnings"]) == (True, 0, 0)
    assert {v["status"] for v in report["validators"]} == {"pass"}
    # Every service keeps its scrape job; Kubernetes scrapes the even ones through their
    # ServiceMonitors, the odd ones (other hosts) through the additional scrape configs.
    jobs = [job["job_name"] for job in yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]]
    names = [f"svc-{index:04d}" for index in range(SERVICES)]
    assert jobs[-SERVICES:] == names
    monitors = [d for d in yaml.safe_load_all((out / "kubernetes" / "service-monitors.yaml").read_text()) if d]
    assert [m["metadata"]["name"] for m in monitors[:-1]] == [f"fleet-{name}" for name in names[0::2]]
    (secret,) = [d for d in yaml.safe_load_all((out / "kubernetes" / "additional-scrape-configs.yaml").read_text()) if d]
    additional = yaml.safe_load(secret["stringData"]["prometheus-additional.yaml"])
    assert [job["job_name"] for job in additional] == names[1::2]
    compose = yaml.safe_load((out / "compose" / "docker-compose.yml").read_text())
    assert not [name for name in compose["services"] if name.startswith("svc-")]
