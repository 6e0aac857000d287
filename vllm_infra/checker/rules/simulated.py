"""Findings decided by the scheduling simulation on a declared cluster: one violation per outcome
that is not ok, on the workload it concerns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.rules.base import Violation
from vllm_infra.checker.simulation.outcomes import Outcome, Verdict
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity

UNVERIFIED = "unverified against a cluster: no inventory given to check --cluster"
"""What heuristic scheduling findings add when no cluster was declared."""


def simulated(bundle: Bundle, outcomes: Iterable[Outcome], path: FieldPath,
              lesser: dict[Verdict, Severity | None]) -> Iterator[Violation]:
    """A violation on the workload of each outcome that is not ok; ``lesser`` gives the severity
    of a verdict (None: the rule's own)."""
    for outcome in outcomes:
        if outcome.verdict == Verdict.OK:
            continue
        kind, namespace, name = outcome.workload
        obj = bundle.find(kind, name, namespace)
        if obj is None:
            continue
        reason = f": {outcome.reason}" if outcome.reason else ""
        yield Violation(path, f"{outcome.scenario.value} on the declared cluster {outcome.verdict.value}: "
                              f"{outcome.detail}{reason}", obj=obj, severity=lesser.get(outcome.verdict))
