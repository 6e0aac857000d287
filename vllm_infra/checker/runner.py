"""`vllm-infra check` and `validate` as library calls: load YAML, run schema validation and the
rule catalog, attribute findings to file and line, decide the exit code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.gpus import GpuType
from vllm_infra.checker.loading import (
    Loaded,
    LoadProblem,
    Location,
    SourceObject,
    iter_inputs,
    read_inputs,
)
from vllm_infra.checker.reading.server import runs_vllm
from vllm_infra.checker.rules import RULES, Rule, RuleContext, RuleFinding, evaluate
from vllm_infra.checker.rules.inputs import DUPLICATE_KEY, UNREADABLE
from vllm_infra.checker.schemas.validator import SchemaValidator, SchemaViolation, UnknownKindError, is_skipped
from vllm_infra.checker.simulation.cluster import Cluster
from vllm_infra.checker.simulation.outcomes import Simulation
from vllm_infra.checker.simulation.scenarios import simulate_manifests
from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.progress import SILENT, Progress
from vllm_infra.vocabulary.reporting import Profile, Severity


class Status(StrEnum):
    """Outcome of one finding."""

    FAILED = "failed"
    WAIVED = "waived"


@dataclass(frozen=True)
class Finding:
    """A rule violation located in the input."""

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


def _located(located: dict[int, SourceObject], rule_findings: Iterable[RuleFinding]) -> list[Finding]:
    findings = []
    for finding in rule_findings:
        source = located[id(finding.obj)]
        findings.append(Finding(
            rule=finding.rule, severity=finding.severity, message=finding.message, source=source.source,
            line=source.line_of(finding.path), kind=source.kind, name=source.name, namespace=source.namespace,
            path=format_path(finding.path), waiver=finding.waiver, fingerprint=finding.fingerprint,
            subject=finding.subject,
        ))
    return findings


def _duplicate_keys(objects: Iterable[SourceObject]) -> list[Finding]:
    """One finding per key given twice (documents listing several objects report it once)."""
    findings, seen = [], set()
    for obj in objects:
        for duplicate in obj.duplicates:
            key = (obj.source, obj.location.document, duplicate.path)
            if key in seen:
                continue
            seen.add(key)
            severity = Severity.HIGH if duplicate.differs else DUPLICATE_KEY.severity
            what = "with a different value; Kubernetes uses the last one" if duplicate.differs else \
                "twice (the same value)"
            findings.append(Finding(DUPLICATE_KEY, severity, f"key '{duplicate.path[-1]}' is given {what}",
                                    obj.source, duplicate.line, obj.kind, obj.name, obj.namespace,
                                    format_path(duplicate.path)))
    return findings


def _findings(objects: Sequence[SourceObject], rules: Sequence[Rule], context: RuleContext,
              progress: Progress = SILENT, unreadable: Iterable[LoadProblem] = ()) -> list[Finding]:
    """Every finding, in report order; files that could not be read (or only partly) are findings
    on those files, so the others are still checked."""
    located = {id(o.manifest): o for o in objects}
    findings = _located(located, evaluate([o.manifest for o in objects], rules, context, progress, parallel=True))
    findings += [Finding(UNREADABLE, UNREADABLE.severity, problem.message, problem.source, problem.line or 1, "", "",
                         "", "") for problem in unreadable]
    if DUPLICATE_KEY in rules:
        findings += _duplicate_keys(objects)
    return sorted(findings, key=_report_order)


def _report_order(finding: Finding) -> tuple[str, int, str, str]:
    return finding.source, finding.line, finding.rule.id, finding.path


def _simulation(cluster: Cluster | None, objects: Sequence[SourceObject]) -> Simulation | None:
    return None if cluster is None else simulate_manifests(cluster, [o.manifest for o in objects])


NO_VLLM_NOTICE = ("no vLLM workload found (no pod template runs a vLLM container and no operator resource "
                  "describes one); only the rules for Kubernetes objects applied")


def run_check(inputs: Sequence[str], *, profile: Profile | None = None,
              kubernetes_version: str | None = None, skip_kinds: Iterable[str] = (),
              gate: Severity = Severity.HIGH, rule_ids: Iterable[str] | None = None,
              ignore_missing_schemas: bool = False, progress: Progress = SILENT, gpu: GpuType | None = None,
              architectures: Mapping[str, ModelArchitecture] | None = None,
              cluster: Cluster | None = None) -> CheckReport:
    """Schema validation plus the rule catalog over manifests on disk (or stdin). Paths that do
    not exist, or inputs with no object at all, are bad input; everything else is analysed (with
    ``cluster``, scheduling rules decide by a simulation on it). Without ``profile``, objects in a
    tree synth rendered are judged under the profile its marker records, the others under
    ``restricted``."""
    loaded = read_inputs(inputs, progress)
    objects, problems = loaded.objects, loaded.problems
    groups, notices = _profile_groups(loaded, profile)
    context = RuleContext(profile=next(iter(groups), Profile.RESTRICTED), skip_kinds=frozenset(skip_kinds),
                          kubernetes_version=kubernetes_version or KUBERNETES_VERSION,
                          ignore_missing_schemas=ignore_missing_schemas, gpu=gpu,
                          architectures=tuple(sorted((architectures or {}).items())),
                          simulation=_simulation(cluster, objects))
    selected = [RULES[rule_id] for rule_id in rule_ids] if rule_ids is not None else list(RULES.values())
    fatal = [problem for problem in problems if problem.argument] if objects else \
        problems or [LoadProblem(", ".join(inputs), None, "no Kubernetes objects found; refusing to pass")]
    report = CheckReport([o.location for o in objects], [], fatal, gate, context.profile, context.kubernetes_version,
                         selected, notices, profiles=tuple(groups) if len(groups) > 1 else ())
    if fatal:
        return report
    if problems and UNREADABLE not in report.rules:
        report.rules.append(UNREADABLE)
    if not any(runs_vllm(o.manifest) for o in objects):
        report.notices.append(NO_VLLM_NOTICE)
    unread = Counter(problem.message for problem in problems if problem.unread)
    report.files_read = loaded.inputs - sum(unread.values())
    if unread:
        report.notices.append(f"{sum(unread.values())} of {loaded.inputs} input files not read: "
                              + ", ".join(f"{count} {reason}" for reason, count in sorted(unread.items())))
    findings: list[Finding] = []
    for index, (group_profile, members) in enumerate(groups.items()):
        findings += _findings(members, selected, replace(context, profile=group_profile), progress,
                              problems if index == 0 else ())
    report.findings = sorted(findings, key=_report_order)
    return report


def _profile_groups(loaded: Loaded, profile: Profile | None) -> tuple[dict[Profile, list[SourceObject]], list[str]]:
    """Objects by the profile they are judged under: ``profile`` for all when given, else each
    rendered tree's recorded profile (``restricted`` outside one)."""
    if profile is not None:
        return {profile: list(loaded.objects)}, []
    groups: dict[Profile, list[SourceObject]] = {}
    notices = []
    known = {member.value for member in Profile}
    for directory, recorded in sorted(loaded.markers.items()):
        if recorded.policy_profile not in known:
            notices.append(f"{directory}: the stack marker names an unknown profile {recorded.policy_profile!r}; "
                           "judged under restricted")
    for obj in loaded.objects:
        marker = loaded.marker_of(obj.source)
        chosen = Profile(marker.policy_profile) if marker and marker.policy_profile in known else Profile.RESTRICTED
        groups.setdefault(chosen, []).append(obj)
    return dict(sorted(groups.items())), notices


def check_objects(manifests: Sequence[Mapping[str, Any]], source: str, *, profile: Profile,
                  gate: Severity = Severity.HIGH, progress: Progress = SILENT,
                  cluster: Cluster | None = None) -> CheckReport:
    """The policy gate over objects held in memory (what synth just rendered): the same rules and
    schemas as ``run_check``, without reading them back from disk."""
    objects = [SourceObject.read(manifest, source, index) for index, manifest in enumerate(manifests)]
    context = RuleContext(profile=profile, simulation=_simulation(cluster, objects))
    rules = list(RULES.values())
    return CheckReport([o.location for o in objects], _findings(objects, rules, context, progress), [], gate, profile,
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
                 skip_kinds: Iterable[str] = (), progress: Progress = SILENT) -> ValidateReport:
    """Strict schema validation of every object in the inputs, one file at a time."""
    validator = SchemaValidator(kubernetes_version) if kubernetes_version else SchemaValidator()
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
