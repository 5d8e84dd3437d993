"""ruler/rules/*.yml: the rules a sharded Prometheus cannot evaluate, for a global evaluator.

Only when ``kubernetes.prometheus.shards`` is above 1. Each file holds, in the rule-file format,
the rules of the same-named ``prometheus/rules/`` file that combine series of several targets
(alerts/shard_safety.py says which and why; the why is the file's leading comment). A Mimir or
Cortex ruler gets them with ``obstack deploy --ruler``; a Thanos ruler can load the files as
they are. Made from the model's rule documents, yours included.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from obstack.alerts.rule_files import RULES_DIR
from obstack.alerts.shard_safety import GlobalRule, split_rule_files
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

RULER_DIR = PurePosixPath("ruler/rules")


def ruler_rules_dir(spec: Spec) -> PurePosixPath:
    """Where the rules for a global ruler are in the tree: the split-off ones when sharded, else all."""
    return RULER_DIR if spec.kubernetes.prometheus.sharded else RULES_DIR


def _why(stem: str, moved: list[GlobalRule]) -> str:
    lines = [" ".join(f"{rule.group}/{rule.rule}: {rule.reason}".split()) for rule in moved if rule.file == stem]
    unique = list(dict.fromkeys(lines))  # a rule recorded several times (per window) is said once
    return "".join(f"# {line}\n" for line in ["Not evaluated on the shards (kubernetes.prometheus.shards):", *unique])


def global_rule_artifacts(model: StackModel) -> list[Artifact]:
    """One file per rule file with rules needing the global view; nothing when not sharded."""
    if not model.spec.kubernetes.prometheus.sharded:
        return []
    split = split_rule_files(model.rule_bodies())
    return [Artifact(RULER_DIR / f"{stem}.yml", _why(stem, split.moved) + dump_yaml(body), "ruler-rules")
            for stem, body in split.global_]
