"""Render check and validate results as text, JSON, SARIF 2.1.0 (GitHub code scanning) or JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from vllm_infra.checker.loading import LoadProblem
from vllm_infra.checker.pipeline import Finding, Status
from vllm_infra.checker.rules import RULES, ResourceRule, Rule
from vllm_infra.checker.rules.schema import SCHEMA_RULE
from vllm_infra.checker.runner import CheckReport, SchemaStatus, ValidateReport
from vllm_infra.vocabulary.reporting import Profile, ReportFormat, Severity
from vllm_infra.vocabulary.terminal import escape_controls

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "7.5", Severity.MEDIUM: "5.0", Severity.LOW: "2.0"}


def _where(finding: Finding) -> str:
    return f"{finding.source}:{finding.line}"


def _object(finding: Finding) -> str:
    return f"{finding.kind}/{finding.name}"


def finding_line(f: Finding) -> str:
    """``file:line: Kind/name: RULE severity: message at path`` (waived ones marked)."""
    status = f" [waived: {f.waiver}]" if f.status == Status.WAIVED else ""
    where = f" at {f.path}" if f.path else ""
    return f"{_where(f)}: {_object(f)}: {f.rule.id} {f.severity}: {f.message}{where}{status}"


def summary_line(report: CheckReport) -> str:
    """``PASS: 32 objects, ... 0 at or above high``: the verdict and the counts."""
    counts = report.counts()
    severities = ", ".join(f"{counts[s.value]} {s.value}" for s in Severity)
    gating = len(report.gating())
    verdict = "FAIL" if gating else "PASS"
    profiles = f"profiles {', '.join(report.profiles)}" if report.profiles else f"profile {report.profile}"
    baselined = f"; {report.baselined} in the baseline" if report.baselined else ""
    return (f"{verdict}: {len(report.objects)} objects, {len(report.rules)} rules, {profiles}, "
            f"Kubernetes {report.kubernetes_version}: {severities}, {counts['waived']} waived; "
            f"{gating} at or above {report.gate}{baselined}")


def check_text(report: CheckReport) -> str:
    """One line per finding (a failed one followed by how to fix it), then a summary line."""
    lines = []
    for f in report.findings:
        lines.append(escape_controls(finding_line(f)))
        if f.status == Status.FAILED:
            lines.append(f"  fix: {f.rule.remediation}")
    lines += [f"notice: {escape_controls(str(notice))}" for notice in report.notices]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule.id, "severity": f.severity.value, "status": f.status.value, "message": f.message,
            "file": f.source, "line": f.line, "kind": f.kind, "name": f.name, "namespace": f.namespace,
            "path": f.path, "waiver": f.waiver, "fingerprint": f.fingerprint, "subject": f.subject}


def _problem_json(problem: LoadProblem) -> dict[str, Any]:
    return {"file": problem.source, "line": problem.line, "message": problem.message}


def check_json(report: CheckReport) -> str:
    """``{"findings": [...], "summary": {...}}``."""
    return json.dumps({
        "findings": [_finding_json(f) for f in report.findings],
        "problems": [_problem_json(problem) for problem in report.problems],
        "notices": report.notices,
        "summary": {"objects": len(report.objects), "files_read": report.files_read, "rules": len(report.rules),
                    "profile": report.profile.value, "profiles": [p.value for p in report.profiles or [report.profile]],
                    "kubernetes_version": report.kubernetes_version, "gate": report.gate.value,
                    "counts": report.counts(), "gating": len(report.gating()), "baselined": report.baselined,
                    "exit_code": int(report.exit_code)},
    }, indent=2) + "\n"


def _uri(source: str) -> str:
    path = Path(source)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    return path.as_posix()


def check_sarif(report: CheckReport) -> str:
    """SARIF 2.1.0 log for GitHub code scanning; waived findings carry an in-source suppression."""
    rules = sorted(report.rules, key=lambda r: r.id)
    index = {rule.id: position for position, rule in enumerate(rules)}
    driver = {
        "name": "vllm-infra",
        "version": _version(),
        "informationUri": "https://github.com/vllm-infra/vllm-infra",
        "rules": [{
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.title},
            "help": {"text": rule.remediation, "markdown": rule.remediation},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            "properties": {"security-severity": _SECURITY_SEVERITY[rule.severity],
                           "tags": ["kubernetes", "vllm"] + (["gpu"] if rule.gpu_specific else []),
                           "problem.severity": "error" if rule.severity.rank >= 3 else "warning"},
        } for rule in rules],
    }
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule.id,
            "ruleIndex": index[f.rule.id],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{_object(f)}: {f.message}"},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": _uri(f.source)},
                                     "region": {"startLine": max(1, f.line)}},
                "logicalLocations": [{"fullyQualifiedName": f"{f.namespace or '-'}/{_object(f)}"
                                                            + (f".{f.path}" if f.path else ""), "kind": "object"}],
            }],
            "partialFingerprints": {"vllmInfraFinding/v2": f.fingerprint},
        }
        if f.status == Status.WAIVED:
            result["suppressions"] = [{"kind": "inSource", "justification": f.waiver}]
        results.append(result)
    invocation = {"executionSuccessful": not report.problems,
                  "toolExecutionNotifications": [
                      {"level": "error", "message": {"text": problem.message},
                       "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(problem.source)},
                                                           "region": {"startLine": problem.line or 1}}}]}
                      for problem in report.problems] + [
                      {"level": "note", "message": {"text": notice}} for notice in report.notices]}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver}, "invocations": [invocation], "results": results,
                     "properties": {"profile": report.profile.value,
                                    "kubernetesVersion": report.kubernetes_version}}]}
    return json.dumps(log, indent=2) + "\n"


def _evaluated(report: CheckReport, kind: str, found: list[Finding]) -> list[Rule]:
    """The rules that judged an object of ``kind``: the per-object rules for its kind, and the
    others where they found something on it."""
    named = {f.rule.id for f in found}
    return [rule for rule in sorted(report.rules, key=lambda r: r.id)
            if rule.id in named or (isinstance(rule, ResourceRule) and (not rule.kinds or kind in rule.kinds))]


def check_junit(report: CheckReport) -> str:
    """JUnit XML: one test case per object and rule evaluated on it, failed when the rule found
    something at or above the gate; files that did not read are test cases of their own."""
    gating = {id(f) for f in report.gating()}
    by_object: dict[tuple[str, str, str], list[Finding]] = {}
    for f in report.findings:
        by_object.setdefault((f.source, f.kind, f.name), []).append(f)
    suite = ET.Element("testsuite", name="vllm-infra check")
    tests = failures = errors = 0
    for problem in report.problems:
        case = ET.SubElement(suite, "testcase", classname=problem.source, name="input")
        ET.SubElement(case, "error", type="bad-input", message=problem.message).text = str(problem)
        tests, errors = tests + 1, errors + 1
    for (source, kind, name), found in sorted(by_object.items()):
        if kind or name:
            continue
        for f in found:  # a file that did not read: no object to attribute it to
            case = ET.SubElement(suite, "testcase", classname=source, name=f"{f.rule.id} (file)")
            tests += 1
            if id(f) in gating:
                ET.SubElement(case, "failure", type=f.rule.id, message=f"{f.rule.id} {f.severity}: {f.message}"
                              ).text = f"{_where(f)}: {f.message}"
                failures += 1
    for obj in report.objects:
        found = by_object.get((obj.source, obj.kind, obj.name), [])
        for rule in _evaluated(report, obj.kind, found):
            case = ET.SubElement(suite, "testcase", classname=obj.source, name=f"{obj.kind}/{obj.name} {rule.id}")
            tests += 1
            failed = False
            for f in (f for f in found if f.rule.id == rule.id):
                text = f"{_where(f)} {f.path}: {f.message}"
                if id(f) in gating and not failed:
                    ET.SubElement(case, "failure", type=f.rule.id, message=f"{f.rule.id} {f.severity}: {f.message}"
                                  ).text = f"{text}\nfix: {f.rule.remediation}"
                    failed = True
                else:
                    ET.SubElement(case, "system-out").text = f"{f.rule.id} {f.severity} ({f.status}): {text}"
            failures += failed
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return str(ET.tostring(suite, encoding="unicode", xml_declaration=True)) + "\n"


_GITHUB_LEVEL = {True: "error", False: "warning"}


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def check_github(report: CheckReport) -> str:
    """GitHub Actions workflow commands: an error annotation per failed finding at or above the
    gate, a warning per failed finding below it (waived ones are not annotated), then the summary."""
    gating = {id(f) for f in report.gating()}
    lines = []
    for f in report.findings:
        if f.status != Status.FAILED:
            continue
        level = _GITHUB_LEVEL[id(f) in gating]
        where = f" at {f.path}" if f.path else ""
        properties = f"file={_github_property(_uri(f.source))},line={max(1, f.line)},title=" + _github_property(
            f"{f.rule.id} {f.severity}: {f.rule.title}")
        lines.append(f"::{level} {properties}::" + _github_data(
            f"{_object(f)}: {f.message}{where}\nFix: {f.rule.remediation}"))
    for problem in report.problems:
        lines.append(f"::error file={_github_property(_uri(problem.source))},line={problem.line or 1}::"
                     + _github_data(problem.message))
    lines += [f"::notice::{_github_data(notice)}" for notice in report.notices]
    return "\n".join([*lines, summary_line(report)]) + "\n"


def render_check(report: CheckReport, output: ReportFormat) -> str:
    """The check report in the requested format."""
    renderers = {ReportFormat.TEXT: check_text, ReportFormat.JSON: check_json, ReportFormat.SARIF: check_sarif,
                 ReportFormat.JUNIT: check_junit, ReportFormat.GITHUB: check_github}
    return renderers[output](report)


def validate_text(report: ValidateReport) -> str:
    """One line per invalid object and violation, then a summary line."""
    lines = []
    for result in report.results:
        obj = result.obj
        label = f"{obj.kind}/{obj.name}"
        if result.status == SchemaStatus.ERROR:
            lines.append(f"{obj.source}:{obj.line_of()}: {label}: error: {result.error}")
        for violation in result.violations:
            lines.append(f"{obj.source}:{obj.line_of(violation.location)}: {label}: invalid: "
                         f"{violation.path or '(root)'}: {violation.message}")
    counts = report.counts()
    verdict = "FAIL" if report.exit_code else "PASS"
    lines.append(f"{verdict}: {len(report.results)} objects against Kubernetes {report.kubernetes_version}: "
                 + ", ".join(f"{counts[s.value]} {s.value}" for s in SchemaStatus))
    return "\n".join(lines) + "\n"


def validate_json(report: ValidateReport) -> str:
    """``{"resources": [...], "summary": {...}}`` (kubeconform's shape)."""
    resources = [{
        "file": r.obj.source, "kind": r.obj.kind, "name": r.obj.name, "namespace": r.obj.namespace,
        "status": r.status.value, "error": r.error,
        "violations": [{"path": v.path, "line": r.obj.line_of(v.location), "message": v.message}
                       for v in r.violations],
    } for r in report.results]
    return json.dumps({"resources": resources, "problems": [_problem_json(problem) for problem in report.problems],
                       "summary": {**report.counts(), "kubernetes_version":
                                                           report.kubernetes_version,
                                                           "exit_code": int(report.exit_code)}}, indent=2) + "\n"


def _as_check_report(report: ValidateReport) -> CheckReport:
    """Validation results as findings of the schema rule, for the SARIF and JUnit writers."""
    rule = RULES[SCHEMA_RULE]
    findings = []
    for result in report.results:
        obj = result.obj
        failures = [(v.message, obj.line_of(v.location), v.path) for v in result.violations]
        if result.status == SchemaStatus.ERROR:
            failures.append((result.error or "no schema", obj.line_of(), ""))
        findings += [Finding(rule, rule.severity, message, obj.source, line, obj.kind, obj.name, obj.namespace, path)
                     for message, line, path in failures]
    return CheckReport([r.obj for r in report.results], findings, report.problems, Severity.LOW,
                       Profile.RESTRICTED, report.kubernetes_version, [rule])


def render_validate(report: ValidateReport, output: ReportFormat) -> str:
    """The validate report in the requested format (SARIF and JUnit report the schema rule)."""
    if output == ReportFormat.TEXT:
        return validate_text(report)
    if output == ReportFormat.JSON:
        return validate_json(report)
    return render_check(_as_check_report(report), output)


def _version() -> str:
    from importlib.metadata import version  # only SARIF needs it: reading package metadata is slow

    return version("vllm-infra")
