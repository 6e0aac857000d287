"""A check in one pass over its inputs: each batch of files is read, judged by the rules that see
one object at a time, and reduced to what the rules over the whole bundle read (its projection),
in forked children when the input is large; only the bundle rules run over everything, here.

So no process holds every object as read: a child holds one batch at a time and sends it on, and
this process the projections, whose equal subtrees are shared. Findings leave the child with their
line numbers (the file's text is at hand there), so nothing is read twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar

from vllm_infra.checker.loading import LoadProblem, Location, SourceObject, Unit, read_units
from vllm_infra.checker.reading.projection import SharedNodes, bundle_projection
from vllm_infra.checker.reading.server import runs_vllm
from vllm_infra.checker.reading.views import shared_views
from vllm_infra.checker.rules import BundleRule, Rule, RuleContext, RuleFinding
from vllm_infra.checker.rules.engine import WaiverJudge, applicable, bundle_findings, resource_findings
from vllm_infra.checker.rules.inputs import DUPLICATE_KEY
from vllm_infra.checker.rules.schema import validator_for
from vllm_infra.checker.rules.waivers import STALE_WAIVER
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.progress import Progress
from vllm_infra.vocabulary.reporting import Profile, Severity
from vllm_infra.workers import Forked, worker_count

PARALLEL_MIN_FILES = 256
"""From this many files, pieces run in forked children (fewer cost more to fork than they save)."""
BATCH_FILES = 200
"""Files a piece reads and judges at once."""


class Status(StrEnum):
    """Outcome of one finding."""

    FAILED = "failed"
    WAIVED = "waived"


@dataclass(frozen=True)
class Finding:
    """A rule violation located in the input: file, line, object and path."""

    rule: Rule
    severity: Severity
    message: str
    source: str
    line: int
    kind: str
    name: str
    namespace: str
    path: str
    waiver: str | None = None
    fingerprint: str = ""
    """Stable across line moves and file renames (rule, object identity, path, subject or message)."""
    subject: str | None = None
    """What the finding is about, in the words a waiver accepts."""

    @property
    def status(self) -> Status:
        """Failed, or waived (with ``waiver`` as the reason)."""
        return Status.WAIVED if self.waiver is not None else Status.FAILED


@dataclass(frozen=True)
class Kept:
    """What the bundle phase keeps of one object."""

    manifest: dict[str, Any]
    location: Location
    profile: Profile
    covered: frozenset[str]
    """Rules whose waiver on this object covered a finding of the per-object rules."""
    order: tuple[int, int] = (0, 0)
    """(input unit, object in it): pieces take units in turn, and the bundle sees them in input order."""


@dataclass
class PieceResult:
    """What one piece of the inputs gives back."""

    located: list[Finding] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    problems: list[tuple[int, LoadProblem]] = field(default_factory=list)
    """With the input unit each came from."""
    runs_vllm: bool = False

    def merged(self, others: Iterable[PieceResult]) -> PieceResult:
        """This piece and the others as one, objects and problems in input order."""
        pieces = [self, *others]
        kept = sorted((entry for piece in pieces for entry in piece.kept), key=lambda entry: entry.order)
        problems = sorted((problem for piece in pieces for problem in piece.problems), key=lambda item: item[0])
        return PieceResult([finding for piece in pieces for finding in piece.located], kept, problems,
                           any(piece.runs_vllm for piece in pieces))


_T = TypeVar("_T")


def _guarded(read: Callable[[Any], _T], manifest: Any, otherwise: _T) -> _T:
    """What ``read`` makes of an object, or ``otherwise`` where the object is malformed in a way
    it cannot read (the rules, each behind its own guard, report the object)."""
    try:
        return read(manifest)
    except Exception:  # a malformed object must not end the run; its findings say what is wrong
        return otherwise


def locate(finding: RuleFinding, where: Location) -> Finding:
    """A rule finding placed in its file."""
    return Finding(finding.rule, finding.severity, finding.message, where.source, where.line_of(finding.path),
                   where.kind, where.name, where.namespace, format_path(finding.path), finding.waiver,
                   finding.fingerprint, finding.subject)


def _duplicate_keys(objects: Iterable[SourceObject]) -> list[Finding]:
    """One finding per key given twice (documents listing several objects report it once)."""
    found, seen = [], set()
    for obj in objects:
        for duplicate in obj.duplicates:
            key = (obj.source, obj.location.document, duplicate.path)
            if key in seen:
                continue
            seen.add(key)
            severity = Severity.HIGH if duplicate.differs else DUPLICATE_KEY.severity
            what = "with a different value; Kubernetes uses the last one" if duplicate.differs else \
                "twice (the same value)"
            found.append(Finding(DUPLICATE_KEY, severity, f"key '{duplicate.path[-1]}' is given {what}",
                                 obj.source, duplicate.line, obj.kind, obj.name, obj.namespace,
                                 format_path(duplicate.path)))
    return found


@dataclass(frozen=True)
class Pass:
    """One check's settings, shared by every piece."""

    rules: Sequence[Rule]
    context: RuleContext
    profile_of: Callable[[str], Profile]
    """The profile a source file is judged under."""

    def batches(self, units: Sequence[Unit], chosen: Sequence[int]) -> Iterator[PieceResult]:
        """The ``chosen`` units read, judged and projected a batch at a time: whoever consumes
        the batches decides what is held (a child sends each one on as soon as it is made)."""
        for batch in range(0, len(chosen), BATCH_FILES):
            result = PieceResult()
            self._batch(units, chosen[batch:batch + BATCH_FILES], result, SharedNodes())
            yield result

    def _batch(self, units: Sequence[Unit], chosen: Sequence[int], result: PieceResult,
               shared: SharedNodes) -> None:
        groups: dict[Profile, list[tuple[tuple[int, int], SourceObject]]] = {}
        for index, (objects, problems) in zip(chosen, read_units([units[index] for index in chosen]), strict=True):
            result.problems += [(index, problem) for problem in problems]
            if DUPLICATE_KEY in self.rules:
                result.located += _duplicate_keys(objects)
            for position, obj in enumerate(objects):
                groups.setdefault(self.profile_of(obj.source), []).append(((index, position), obj))
        with shared_views():
            for profile, members in groups.items():  # each profile's rules are chosen once per batch
                context = replace(self.context, profile=profile)
                judge = WaiverJudge(context)
                where = {id(obj.manifest): obj.location for _order, obj in members}
                result.located += [locate(finding, where[id(finding.obj)]) for finding in resource_findings(
                    [obj.manifest for _order, obj in members], self.rules, context, judge)]
                for order, obj in members:
                    result.runs_vllm = result.runs_vllm or _guarded(runs_vllm, obj.manifest, False)
                    result.kept.append(Kept(_guarded(lambda manifest: bundle_projection(manifest, shared),
                                                     obj.manifest, obj.manifest), obj.location, profile,
                                            judge.covered(obj.manifest), order))


def run_pieces(units: Sequence[Unit], settings: Pass, progress: Progress) -> PieceResult:
    """Every unit read and judged, in pieces (forked children for large inputs), merged in input
    order. One piece per child, forked while this process is still small; the children take runs
    of units in turn, because files sorted by name come grouped by kind and kinds differ in cost
    (a child touching only its own runs copies fewer of this process's pages)."""
    advance = progress.phase("checking manifests", len(units))
    workers = worker_count()
    files = sum(1 for unit in units if isinstance(unit, str))
    if workers < 2 or files < PARALLEL_MIN_FILES:
        batches = list(settings.batches(units, range(len(units))))
        advance(len(units))
        return PieceResult().merged(batches)
    context = settings.context
    validator_for(context.kubernetes_version, context.schema_dirs).preload()  # compiled once, shared by every child
    runs = [range(start, min(start + BATCH_FILES, len(units))) for start in range(0, len(units), BATCH_FILES)]
    turns = [[index for run in runs[child::workers] for index in run] for child in range(workers)]
    results: list[PieceResult] = []
    for turn, parts in zip(turns, Forked(lambda index: settings.batches(units, turns[index]), workers, workers,
                                         streamed=True), strict=True):
        results += parts
        advance(len(turn))
    return PieceResult().merged(results)


def judge_bundle(kept: Sequence[Kept], rules: Sequence[Rule], context: RuleContext,
                 progress: Progress) -> list[Finding]:
    """The bundle rules over every kept object, per profile, and the waivers that covered nothing."""
    groups: dict[Profile, list[Kept]] = {}
    for entry in kept:
        groups.setdefault(entry.profile, []).append(entry)
    where: Mapping[int, Kept] = {id(entry.manifest): entry for entry in kept}
    bundle_rules = [rule for rule in rules if isinstance(rule, BundleRule)]
    advance = progress.phase("checking the bundle", sum(len(applicable(bundle_rules, replace(context, profile=profile)))
                                                        for profile in groups))
    located: list[Finding] = []
    for profile, members in groups.items():
        group_context = replace(context, profile=profile)
        judge = WaiverJudge(group_context)
        objects = [entry.manifest for entry in members]
        found = bundle_findings(objects, rules, group_context, judge, advance)
        for entry in members:
            judge.mark_covered(entry.manifest, entry.covered)
        if STALE_WAIVER in rules:
            found += judge.stale([rule.id for rule in applicable(rules, group_context)], objects)
        located += [locate(finding, where[id(finding.obj)].location) for finding in found]
    return located
