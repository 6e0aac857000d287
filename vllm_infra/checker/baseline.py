"""Baselines: the findings a repository accepted when it adopted the checker, so CI reports only
what a change adds. Entries are keyed by fingerprint (rule, object identity, path, subject or
message), which survives line moves and file renames and changes when the finding changes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vllm_infra.checker.pipeline import Finding, Status

FORMAT = "vllm-infra-baseline/v1"


class BaselineError(ValueError):
    """A baseline file that cannot be read."""


@dataclass(frozen=True)
class Baseline:
    """Accepted findings by fingerprint, with what they said (for people reading the file)."""

    entries: dict[str, dict[str, str]]
    source: str

    def covers(self, finding: Finding) -> bool:
        """Whether the finding was accepted."""
        return finding.fingerprint in self.entries


def baseline_text(findings: Iterable[Finding]) -> str:
    """The baseline of every failed finding, sorted, one entry per fingerprint."""
    entries = {f.fingerprint: {"rule": f.rule.id, "kind": f.kind, "namespace": f.namespace, "name": f.name,
                               "path": f.path, "message": f.message}
               for f in findings if f.status == Status.FAILED and f.fingerprint}
    return json.dumps({"format": FORMAT, "findings": dict(sorted(entries.items()))}, indent=2) + "\n"


def read_baseline(path: Path) -> Baseline:
    """A baseline file; raises BaselineError naming the file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path}: cannot read: {error}") from None
    except ValueError as error:
        raise BaselineError(f"{path}: not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("findings"), dict):
        raise BaselineError(f"{path}: not a vllm-infra baseline (write one with `vllm-infra check --write-baseline "
                            f"{path}`)")
    return Baseline({str(key): value for key, value in data["findings"].items()}, str(path))
