"""`vllm-infra check` and `validate` as library calls: load YAML, run schema validation and the
rule catalog, attribute findings to file and line, decide the exit code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from vllm_infra.kube import KUBERNETES_VERSION, format_path
from vllm_infra.manifests import LoadProblem, SourceObject, load
from vllm_infra.policy import Profile, Severity
from vllm_infra.rules import RULES, Rule, RuleContext, RuleFinding, evaluate
from vllm_infra.rules.k8s import is_vllm_workload
from vllm_infra.validation.schemas import SchemaValidator, SchemaViolation, UnknownKindError, is_skipped


class ExitCode(IntEnum):
    """What the process exit code means."""

    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2


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

    @property
    def status(self) -> Status:
        """Failed, or waived (with ``waiver`` as the reason)."""
        return Status.WAIVED if self.waiver is not None else Status.FAILED


@dataclass
class CheckReport:
    """Everything `vllm-infra check` prints and decides."""

    objects: list[SourceObject]
    findings: list[Finding]
    problems: list[LoadProblem]
    gate: Severity
    profile: Profile
    kubernetes_version: str
    rules: list[Rule] = field(default_factory=list)

    def gating(self) -> list[Finding]:
        """Failed findings at or above the gate."""
        return [f for f in self.findings if f.status == Status.FAILED and f.severity.rank >= self.gate.rank]

    @property
    def exit_code(self) -> ExitCode:
        """2 on bad input, 1 on gating findings, else 0."""
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
            path=format_path(finding.path), waiver=finding.waiver,
        ))
    return sorted(findings, key=lambda f: (f.source, f.line, f.rule.id, f.path))


def run_check(inputs: Sequence[str], *, profile: Profile = Profile.RESTRICTED,
              kubernetes_version: str | None = None, skip_kinds: Iterable[str] = (),
              gate: Severity = Severity.HIGH, rule_ids: Iterable[str] | None = None) -> CheckReport:
    """Schema validation plus the rule catalog over YAML inputs."""
    objects, problems = load(inputs)
    context = RuleContext(profile=profile, skip_kinds=frozenset(skip_kinds),
                          kubernetes_version=kubernetes_version or KUBERNETES_VERSION)
    selected = [RULES[rule_id] for rule_id in rule_ids] if rule_ids is not None else list(RULES.values())
    report = CheckReport(objects, [], problems, gate, profile, context.kubernetes_version, selected)
    if not objects and not problems:
        problems.append(LoadProblem(", ".join(inputs), None, "no Kubernetes objects found; refusing to pass"))
    elif objects and not any(is_vllm_workload(o.manifest) for o in objects):
        problems.append(LoadProblem(", ".join(inputs), None, "no vLLM workload (Deployment, StatefulSet or "
                                                             "LeaderWorkerSet running vLLM) found; refusing to pass"))
    if problems:
        return report
    located = {id(o.manifest): o for o in objects}
    report.findings = _located(located, evaluate([o.manifest for o in objects], context, selected))
    return report


class SchemaStatus(StrEnum):
    """Outcome of validating one object (kubeconform's vocabulary)."""

    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SchemaResult:
    """One object's validation result."""

    obj: SourceObject
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
                 skip_kinds: Iterable[str] = ()) -> ValidateReport:
    """Strict schema validation of every object in the inputs."""
    validator = SchemaValidator(kubernetes_version) if kubernetes_version else SchemaValidator()
    objects, problems = load(inputs)
    if not objects and not problems:
        problems.append(LoadProblem(", ".join(inputs), None, "no Kubernetes objects found; refusing to pass"))
    skip = frozenset(skip_kinds)
    results = []
    for obj in objects if not problems else []:
        if is_skipped(obj.manifest, skip):
            results.append(SchemaResult(obj, SchemaStatus.SKIPPED, []))
            continue
        try:
            violations = [] if validator.is_valid(obj.manifest) else validator.validate(obj.manifest)
        except UnknownKindError as exc:
            results.append(SchemaResult(obj, SchemaStatus.ERROR, [], str(exc)))
            continue
        results.append(SchemaResult(obj, SchemaStatus.INVALID if violations else SchemaStatus.VALID, violations))
    return ValidateReport(results, problems, validator.kubernetes_version)
