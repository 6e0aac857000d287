"""`vllm-infra check` and `validate` as library calls: load YAML, run schema validation and the
rule catalog, attribute findings to file and line, decide the exit code."""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.gpus import GpuType
from vllm_infra.checker.baseline import Baseline
from vllm_infra.checker.loading import (
    STDIN_LABEL,
    LoadProblem,
    Location,
    SourceObject,
    Unit,
    input_units,
    iter_inputs,
    stack_markers,
)
from vllm_infra.checker.pipeline import Finding, Pass, Status, judge_bundle, locate, run_pieces
from vllm_infra.checker.rules import RULES, Rule, RuleContext, evaluate
from vllm_infra.checker.rules.inputs import UNREADABLE
from vllm_infra.checker.rules.schema import validator_for
from vllm_infra.checker.schemas.validator import (
    SchemaValidator,
    SchemaViolation,
    UnknownKindError,
    UnsupportedVersionError,
    is_skipped,
    normalize_version,
)
from vllm_infra.checker.simulation.cluster import Cluster
from vllm_infra.checker.simulation.scenarios import simulate_manifests
from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.vocabulary.markers import StackMarker
from vllm_infra.vocabulary.progress import SILENT, Progress
from vllm_infra.vocabulary.reporting import Profile, Severity


@dataclass
class CheckReport:
    """Everything `vllm-infra check` prints and decides."""

    objects: list[Location]
    findings: list[Finding]
    problems: list[LoadProblem]
    gate: Severity
    profile: Profile
    kubernetes_version: str
    rules: list[Rule] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """What a reader should know that is no finding (e.g. no vLLM workload among the objects)."""
    files_read: int | None = None
    """Input files (and stdin) read; None when the objects were handed over in memory."""
    profiles: tuple[Profile, ...] = ()
    """Every profile objects were judged under (the trees synth rendered say theirs), when more than one."""
    baselined: int = 0
    """Failed findings left out because the baseline accepted them."""

    def gating(self) -> list[Finding]:
        """Failed findings at or above the gate."""
        return [f for f in self.findings if f.status == Status.FAILED and f.severity.rank >= self.gate.rank]

    @property
    def exit_code(self) -> ExitCode:
        """2 when nothing could be read (or a path does not exist), 1 on gating findings, else 0."""
        if self.problems:
            return ExitCode.BAD_INPUT
        return ExitCode.FINDINGS if self.gating() else ExitCode.OK

    def counts(self) -> dict[str, int]:
        """Failed findings per severity plus waived."""
        failed = Counter(f.severity.value for f in self.findings if f.status == Status.FAILED)
        counts = {severity.value: failed.get(severity.value, 0) for severity in Severity}
        counts["waived"] = sum(1 for f in self.findings if f.status == Status.WAIVED)
        return counts


def _report_order(finding: Finding) -> tuple[str, int, str, str]:
    return finding.source, finding.line, finding.rule.id, finding.path


NO_VLLM_NOTICE = ("no vLLM workload found (no pod template runs a vLLM container and no operator resource "
                  "describes one); only the rules for Kubernetes objects applied")


def run_check(inputs: Sequence[str], *, profile: Profile | None = None,
              kubernetes_version: str | None = None, skip_kinds: Iterable[str] = (),
              gate: Severity = Severity.HIGH, rule_ids: Iterable[str] | None = None,
              ignore_missing_schemas: bool = False, progress: Progress = SILENT, gpu: GpuType | None = None,
              architectures: Mapping[str, ModelArchitecture] | None = None,
              cluster: Cluster | None = None, exclude_rules: Iterable[str] = (),
              exclude_paths: Sequence[str] = (), severities: Mapping[str, Severity] | None = None,
              schema_dirs: Sequence[str] = (), baseline: Baseline | None = None) -> CheckReport:
    """Schema validation plus the rule catalog over manifests on disk (or stdin), in one pass (see
    ``pipeline``). Paths that do not exist, or inputs with no object at all, are bad input;
    everything else is analysed (with ``cluster``, scheduling rules decide by a simulation on it).
    Without ``profile``, objects in a tree synth rendered are judged under the profile its marker
    records, the others under ``restricted``. Files matching ``exclude_paths`` are not read (a
    notice counts them); findings ``baseline`` accepted are left out (``baselined`` counts them)."""
    units, excluded = _excluded(input_units(inputs), exclude_paths)
    markers = stack_markers(inputs)
    profile_of, notices = _profile_choice(markers, profile)
    kubernetes_version = kubernetes_version or _recorded_version(markers, notices)
    context = RuleContext(skip_kinds=frozenset(skip_kinds), kubernetes_version=kubernetes_version or KUBERNETES_VERSION,
                          ignore_missing_schemas=ignore_missing_schemas, gpu=gpu,
                          architectures=tuple(sorted((architectures or {}).items())),
                          severities=tuple(sorted((severities or {}).items())), schema_dirs=tuple(schema_dirs))
    validator_for(context.kubernetes_version, context.schema_dirs)  # bad user schemas are bad input, here
    left_out = set(exclude_rules)
    selected = [RULES[rule_id] for rule_id in (rule_ids if rule_ids is not None else RULES) if rule_id not in left_out]
    if excluded:
        notices.append(f"{excluded} input file{'s' if excluded != 1 else ''} excluded by exclude_paths")
    passed = run_pieces(units, Pass(selected, context, profile_of), progress)
    unit_count = len(units)
    del units  # 100,000 paths hold 45 MB the bundle phase does not need
    kept = passed.kept
    problems = [problem for _unit, problem in passed.problems]
    fatal = [problem for problem in problems if problem.argument] if kept else \
        problems or [LoadProblem(", ".join(inputs), None, "no Kubernetes objects found; refusing to pass")]
    profiles = sorted({entry.profile for entry in kept})
    report = CheckReport([entry.location for entry in kept], [], fatal, gate,
                         profiles[0] if profiles else profile or Profile.RESTRICTED, context.kubernetes_version,
                         selected, notices, profiles=tuple(profiles) if len(profiles) > 1 else ())
    if fatal:
        return report
    if problems and UNREADABLE not in report.rules:
        report.rules.append(UNREADABLE)
    if not passed.runs_vllm:
        report.notices.append(NO_VLLM_NOTICE)
    unread = Counter(problem.message for problem in problems if problem.unread)
    report.files_read = unit_count - sum(unread.values())
    if unread:
        report.notices.append(f"{sum(unread.values())} of {unit_count} input files not read: "
                              + ", ".join(f"{count} {reason}" for reason, count in sorted(unread.items())))
    simulation = None if cluster is None else simulate_manifests(cluster, [entry.manifest for entry in kept])
    findings = list(passed.located)
    findings += judge_bundle(kept, selected, replace(context, simulation=simulation), progress)
    findings += [Finding(UNREADABLE, UNREADABLE.severity, problem.message, problem.source, problem.line or 1, "", "",
                         "", "") for problem in problems]
    findings = [replace(f, severity=context.severity_of(f.rule.id, f.severity)) for f in findings]
    if baseline is not None:
        accepted = [f for f in findings if f.status == Status.FAILED and baseline.covers(f)]
        report.baselined = len(accepted)
        findings = [f for f in findings if not (f.status == Status.FAILED and baseline.covers(f))]
        fixed = len(baseline.entries.keys() - {f.fingerprint for f in accepted})
        if fixed:
            report.notices.append(f"{fixed} finding{'s' if fixed != 1 else ''} of the baseline {baseline.source} "
                                  "no longer occur; write the baseline again to drop them")
    report.findings = sorted(findings, key=_report_order)
    return report


def _excluded(units: list[Unit], patterns: Sequence[str]) -> tuple[list[Unit], int]:
    """The units no pattern matches (fnmatch on the path as given: ``*`` also crosses directories)."""
    if not patterns:
        return units, 0
    kept = [unit for unit in units if not any(fnmatch.fnmatchcase(_unit_path(unit), pattern) for pattern in patterns)]
    return kept, len(units) - len(kept)


def _unit_path(unit: Unit) -> str:
    path = unit if isinstance(unit, str) else unit.source if isinstance(unit, LoadProblem) else STDIN_LABEL
    return Path(path).as_posix().removeprefix("./")


def _recorded_version(markers: Mapping[str, StackMarker], notices: list[str]) -> str | None:
    """The Kubernetes version the rendered trees among the inputs were rendered for, when they agree
    (one run validates against one version's schemas); a notice when they do not."""
    versions = sorted({marker.kubernetes_version for marker in markers.values() if marker.kubernetes_version})
    if len(versions) > 1:
        notices.append(f"the rendered trees were rendered for Kubernetes {', '.join(versions)}; judged under "
                       f"{KUBERNETES_VERSION} (check each tree, or pass --kubernetes-version)")
        return None
    if not versions:
        return None
    try:
        return normalize_version(versions[0])
    except UnsupportedVersionError as exc:
        notices.append(f"the rendered trees record {exc}; judged under {KUBERNETES_VERSION}")
        return None


def _profile_choice(markers: Mapping[str, StackMarker], profile: Profile | None,
                    ) -> tuple[Callable[[str], Profile], list[str]]:
    """How a source file's profile is chosen: ``profile`` when given, else the innermost rendered
    tree's recorded profile (``restricted`` outside one); notices for markers that name no profile."""
    if profile is not None:
        chosen = profile
        return (lambda _source: chosen), []
    known = {member.value for member in Profile}
    notices = [f"{directory}: the stack marker names an unknown profile {marker.policy_profile!r}; judged under "
               "restricted" for directory, marker in sorted(markers.items()) if marker.policy_profile not in known]
    recorded = {directory: Profile(marker.policy_profile) for directory, marker in markers.items()
                if marker.policy_profile in known}

    def choose(source: str) -> Profile:
        return next((recorded[str(parent)] for parent in Path(source).parents if str(parent) in recorded),
                    Profile.RESTRICTED)
    return choose, notices


def check_objects(manifests: Sequence[Mapping[str, Any]], source: str, *, profile: Profile,
                  gate: Severity = Severity.HIGH, progress: Progress = SILENT,
                  cluster: Cluster | None = None, kubernetes_version: str = KUBERNETES_VERSION) -> CheckReport:
    """The policy gate over objects held in memory (what synth just rendered): the same rules and
    schemas as ``run_check``, without reading them back from disk."""
    objects = [SourceObject.read(manifest, source, index) for index, manifest in enumerate(manifests)]
    simulation = None if cluster is None else simulate_manifests(cluster, list(manifests))
    context = RuleContext(profile=profile, simulation=simulation, kubernetes_version=kubernetes_version)
    rules = list(RULES.values())
    where = {id(obj.manifest): obj.location for obj in objects}
    findings = [locate(finding, where[id(finding.obj)])
                for finding in evaluate([obj.manifest for obj in objects], rules, context, progress, parallel=True)]
    return CheckReport([o.location for o in objects], sorted(findings, key=_report_order), [], gate, profile,
                       context.kubernetes_version, rules)


class SchemaStatus(StrEnum):
    """Outcome of validating one object (kubeconform's vocabulary)."""

    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SchemaResult:
    """One object's validation result (the object itself is not kept)."""

    obj: Location
    status: SchemaStatus
    violations: list[SchemaViolation]
    error: str | None = None


@dataclass
class ValidateReport:
    """Everything `vllm-infra validate` prints and decides."""

    results: list[SchemaResult]
    problems: list[LoadProblem]
    kubernetes_version: str

    @property
    def exit_code(self) -> ExitCode:
        """2 on bad input, 1 if any object is invalid or has no schema, else 0."""
        if self.problems:
            return ExitCode.BAD_INPUT
        bad = any(r.status in (SchemaStatus.INVALID, SchemaStatus.ERROR) for r in self.results)
        return ExitCode.FINDINGS if bad else ExitCode.OK

    def counts(self) -> dict[str, int]:
        """Objects per status."""
        counts = Counter(r.status.value for r in self.results)
        return {status.value: counts.get(status.value, 0) for status in SchemaStatus}


def run_validate(inputs: Sequence[str], *, kubernetes_version: str | None = None,
                 skip_kinds: Iterable[str] = (), progress: Progress = SILENT,
                 schema_dirs: Sequence[str] = ()) -> ValidateReport:
    """Strict schema validation of every object in the inputs, one file at a time."""
    validator = SchemaValidator(kubernetes_version or KUBERNETES_VERSION, tuple(schema_dirs))
    skip = frozenset(skip_kinds)
    results: list[SchemaResult] = []
    problems: list[LoadProblem] = []
    for objects, trouble in iter_inputs(inputs, duplicates=False, progress=progress, label="validating manifests"):
        problems += trouble
        results += [_validated(validator, obj, skip) for obj in objects]
    if not results and not problems:
        problems.append(LoadProblem(", ".join(inputs), None, "no Kubernetes objects found; refusing to pass"))
    return ValidateReport(results if not problems else [], problems, validator.kubernetes_version)


def _validated(validator: SchemaValidator, obj: SourceObject, skip: frozenset[str]) -> SchemaResult:
    if is_skipped(obj.manifest, skip):
        return SchemaResult(obj.location, SchemaStatus.SKIPPED, [])
    try:
        violations = [] if validator.is_valid(obj.manifest) else validator.validate(obj.manifest)
    except UnknownKindError as exc:
        return SchemaResult(obj.location, SchemaStatus.ERROR, [], str(exc))
    return SchemaResult(obj.location, SchemaStatus.INVALID if violations else SchemaStatus.VALID, violations)
