"""`vllm-infra check`, `validate` and `rules`: exact lines, formats and exit codes."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MANIFESTS_DIR
from vllm_infra.checker.rules import RULES
from vllm_infra.cli import app

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def prod(tmp_path: Path) -> Path:
    target = tmp_path / "prod"
    shutil.copytree(MANIFESTS_DIR / "prod", target)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace text in a file; return the 1-based line of the edit."""
    text = path.read_text()
    assert old in text, old
    line = text[:text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1))
    return line


PROD_UNPINNED = ("[waived: No trusted record of the v0.32.0 image digest yet (the release catalog records PyPI "
                 "wheels, not registry digests); pin it with `docker buildx imagetools inspect "
                 "vllm/vllm-openai:v0.32.0`.]")


def test_reference_prod_passes_with_only_the_stated_digest_waiver() -> None:
    code, out, _ = invoke("check", str(MANIFESTS_DIR / "prod"))
    *waived, summary = out.splitlines()
    assert code == 0
    vllm = [line for line in waived if ": VI-IMG-001 high: image vllm/vllm-openai:v0.32.0 is not pinned by digest at "
            in line]
    llm_d = [line for line in waived if ": VI-IMG-001 high: image ghcr.io/llm-d/" in line]
    assert (len(vllm), len(llm_d), len(waived)) == (9, 2, 11)  # the 70B's prefetch Job and its gate, the P/D
    # pair's sidecar and endpoint picker
    assert all(PROD_UNPINNED[:-1] in line for line in vllm)
    assert all("No trusted record of the llm-d v0.8.0 image digests yet" in line for line in llm_d)
    assert summary == (f"PASS: 57 objects, {len(RULES)} rules, profile restricted, Kubernetes 1.33: 0 critical, "
                       "0 high, 0 medium, 0 low, 11 waived; 0 at or above high")


def test_reference_dev_passes_under_the_dev_profile() -> None:
    code, out, _ = invoke("check", str(MANIFESTS_DIR / "dev"), "--profile", "dev")
    dev = MANIFESTS_DIR / "dev"
    assert code == 0
    assert out.splitlines() == [
        f"{dev}/deployment-llama-8b.yaml:47: Deployment/llama-8b: VI-AVL-008 medium: no priorityClassName at "
        "spec.template.spec.priorityClassName",
        f"  fix: {RULES['VI-AVL-008'].remediation}",
        f"{dev}/deployment-qwen-7b.yaml:48: Deployment/qwen-7b: VI-AVL-008 medium: no priorityClassName at "
        "spec.template.spec.priorityClassName",
        f"  fix: {RULES['VI-AVL-008'].remediation}",
        f"PASS: 11 objects, {len(RULES)} rules, profile dev, Kubernetes 1.33: 0 critical, 0 high, 2 medium, 0 low, "
        "0 waived; 0 at or above high",
    ]


def test_gate_follows_fail_on() -> None:
    code, out, _ = invoke("check", str(MANIFESTS_DIR / "staging"), "--fail-on", "medium")
    assert code == 1
    assert out.splitlines()[-1].startswith("FAIL: 42 objects")
    assert out.splitlines()[-1].endswith("5 at or above medium")


def line_of(path: Path, text: str) -> int:
    """1-based line of the first line of ``path`` equal to ``text`` (stripped)."""
    return [line.strip() for line in path.read_text().splitlines()].index(text) + 1


@pytest.mark.parametrize(("file", "old", "new", "rule", "severity", "anchor"), [
    ("deployment-llama-70b.yaml", "allowPrivilegeEscalation: false", "privileged: true",
     "VI-SEC-001", "critical", "privileged: true"),
    ("deployment-llama-70b.yaml", "--tensor-parallel-size=4", "--tensor-parallel-size=8", "VI-GPU-002", "critical",
     "- meta-llama/Llama-3.3-70B-Instruct"),
    ("service-qwen-7b.yaml", "type: ClusterIP", "type: LoadBalancer", "VI-NET-002", "high", "type: LoadBalancer"),
    ("deployment-qwen-7b.yaml", "startupProbe:", "startupprobe:", "VI-SCH-001", "critical", "- args:"),
    ("poddisruptionbudget-llama-8b.yaml", "maxUnavailable: 1", "maxUnavailable: 0", "VI-AVL-002", "critical",
     "maxUnavailable: 0"),
])
def test_broken_fixture_is_caught(prod: Path, file: str, old: str, new: str, rule: str, severity: str,
                                  anchor: str) -> None:
    edit(prod / file, old, new)
    line = line_of(prod / file, anchor)
    code, out, _ = invoke("check", str(prod), "-o", "json")
    report = json.loads(out)
    assert code == 1
    hits = [(f["file"], f["line"], f["severity"]) for f in report["findings"] if f["rule"] == rule]
    assert (str(prod / file), line, severity) in hits
    assert report["summary"]["exit_code"] == 1


def test_waiver_is_reported_not_dropped(prod: Path) -> None:
    edit(prod / "service-qwen-7b.yaml", "type: ClusterIP", "type: LoadBalancer")
    edit(prod / "service-qwen-7b.yaml", "  annotations:\n", "  annotations:\n    vllm-infra.io/waive.VI-NET-002: "
                                                           "accepts=LoadBalancer; internal load balancer, VPC only\n")
    code, out, _ = invoke("check", str(prod))
    line = line_of(prod / "service-qwen-7b.yaml", "type: LoadBalancer")
    assert code == 0
    assert next(entry for entry in out.splitlines() if "VI-IMG-001" not in entry) == (
        f"{prod}/service-qwen-7b.yaml:{line}: Service/qwen-7b: VI-NET-002 high: Service type LoadBalancer exposes the "
        "inference API outside the cluster at spec.type [waived: internal load balancer, VPC only]")
    assert out.splitlines()[-1].endswith("12 waived; 0 at or above high")


def test_sarif_for_code_scanning(prod: Path) -> None:
    edit(prod / "service-qwen-7b.yaml", "type: ClusterIP", "type: NodePort")
    code, out, _ = invoke("check", str(prod), "-o", "sarif")
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "vllm-infra"
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == len(RULES)
    assert all({"id", "shortDescription", "help", "defaultConfiguration", "properties"} <= set(r) for r in rules)
    [result] = [found for found in run["results"] if "suppressions" not in found]
    assert {found["ruleId"] for found in run["results"] if "suppressions" in found} == {"VI-IMG-001"}
    assert result["ruleId"] == "VI-NET-002"
    assert rules[result["ruleIndex"]]["id"] == "VI-NET-002"
    assert result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("prod/service-qwen-7b.yaml")
    assert location["region"]["startLine"] == line_of(prod / "service-qwen-7b.yaml", "type: NodePort")
    assert set(result["partialFingerprints"]) == {"vllmInfraFinding/v2"}


def test_junit_has_one_case_per_object_and_failures_at_the_gate(prod: Path) -> None:
    edit(prod / "service-qwen-7b.yaml", "type: ClusterIP", "type: NodePort")
    code, out, _ = invoke("check", str(prod), "-o", "junit")
    suite = ET.fromstring(out.split("?>", 1)[1])
    cases = list(suite.iter("testcase"))
    assert code == 1
    assert suite.attrib["tests"] == str(len(cases)) and len(cases) > 32 * 10  # objects x rules evaluated on them
    assert suite.attrib["failures"] == "1" and suite.attrib["errors"] == "0"
    [failing] = [case for case in cases if case.find("failure") is not None]
    assert failing.attrib["name"] == "Service/qwen-7b VI-NET-002"
    assert failing.find("failure").attrib["type"] == "VI-NET-002"  # type: ignore[union-attr]
    names = {case.attrib["name"] for case in cases}
    assert {"Service/qwen-7b VI-SCH-001", "Deployment/qwen-7b VI-SEC-001"} <= names
    assert "Service/qwen-7b VI-SEC-001" not in names  # a pod rule does not judge a Service


def test_reads_stdin() -> None:
    text = "".join(p.read_text() for p in sorted((MANIFESTS_DIR / "prod").glob("*.yaml"))
                   if p.name != "kustomization.yaml")
    assert invoke("check", "-", stdin=text.replace("# Generated", "---\n# Generated"))[0] == 0


@pytest.mark.parametrize(("content", "message"), [
    ("apiVersion: v1\nkind: [\n", "x.yaml:3: YAML error: while parsing a flow node did not find expected node content"),
    ("# nothing here\n", "no Kubernetes objects found; refusing to pass"),
    ("- just\n- a list\n", "x.yaml:1: document 1 is not a Kubernetes object (needs apiVersion and kind)"),
])
def test_bad_input_exits_2(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "x.yaml").write_text(content)
    code, out, err = invoke("check", str(tmp_path / "x.yaml"))
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == "error: 1 input problem; nothing was checked"
    assert err.splitlines()[1].endswith(message)


def test_missing_path_and_bad_options(tmp_path: Path) -> None:
    code, _, err = invoke("check", str(tmp_path / "absent"))
    assert code == 2
    assert err.splitlines()[1] == f"  {tmp_path / 'absent'}: no such file or directory"
    assert invoke("check", "--rule", "VI-NOPE-1", str(MANIFESTS_DIR / "prod"))[2] == (
        "error: unknown rule id: VI-NOPE-1 (see `vllm-infra rules`)\n")
    code, _, err = invoke("check", "--kubernetes-version", "1.19", str(MANIFESTS_DIR / "prod"))
    assert (code, err) == (2, "error: Kubernetes 1.19 is not supported (supported: 1.25-1.37)\n")


def test_single_rule_selection() -> None:
    code, out, _ = invoke("check", "--rule", "VI-GPU-002", str(MANIFESTS_DIR / "prod"))
    assert code == 0
    assert ", 1 rules," in out


def test_validate_reference_manifests() -> None:
    code, out, _ = invoke("validate", str(MANIFESTS_DIR))
    assert (code, out) == (0, "PASS: 191 objects against Kubernetes 1.33: 191 valid, 0 invalid, 0 error, 0 skipped\n")


def test_validate_reports_each_violation_with_its_line(prod: Path) -> None:
    edit(prod / "deployment-qwen-7b.yaml", "startupProbe:", "startupprobe:")
    code, out, _ = invoke("validate", str(prod))
    assert code == 1
    assert out.splitlines() == [
        f"{prod}/deployment-qwen-7b.yaml:{line_of(prod / 'deployment-qwen-7b.yaml', '- args:')}: Deployment/qwen-7b: "
        "invalid: spec.template.spec.containers[0]: Additional properties are not allowed ('startupprobe' was "
        "unexpected)",
        "FAIL: 57 objects against Kubernetes 1.33: 56 valid, 1 invalid, 0 error, 0 skipped",
    ]


def test_validate_older_kubernetes_rejects_newer_fields() -> None:
    code, out, _ = invoke("validate", "--kubernetes-version", "1.25", str(MANIFESTS_DIR / "prod"))
    assert code == 1
    assert "('unhealthyPodEvictionPolicy' was unexpected)" in out
    assert "('sleep' was unexpected)" in out


def test_validate_missing_schema_is_an_error_unless_skipped(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    code, out, _ = invoke("validate", str(tmp_path))
    assert (code, out.splitlines()[0]) == (1, f"{tmp_path}/w.yaml:1: Widget/w: error: no schema for Widget "
                                              "(example.com/v1) in Kubernetes 1.33, the vendored CRDs or the "
                                              "--schema-dir schemas")
    code, out, _ = invoke("validate", str(tmp_path), "--skip", "example.com/v1/Widget")
    assert (code, out) == (0, "PASS: 1 objects against Kubernetes 1.33: 0 valid, 0 invalid, 0 error, 1 skipped\n")


def test_validate_json_shape() -> None:
    code, out, _ = invoke("validate", str(MANIFESTS_DIR / "dev"), "-o", "json")
    report = json.loads(out)
    assert code == 0
    assert report["summary"] == {"valid": 11, "invalid": 0, "error": 0, "skipped": 0, "kubernetes_version": "1.33",
                                 "exit_code": 0}
    assert {r["status"] for r in report["resources"]} == {"valid"}


def test_rules_lists_the_catalog() -> None:
    code, out, _ = invoke("rules", "-o", "json")
    catalog = json.loads(out)
    assert code == 0
    assert len(catalog) == len(RULES)
    assert catalog[0] == {"id": "VI-AVL-001", "severity": "high", "scope": "bundle", "gpu_specific": False,
                          "title": "Each serving workload is covered by exactly one PodDisruptionBudget",
                          "remediation": "Render one PDB (maxUnavailable: 1) per serving workload; the dev profile "
                                         "accepts none.", "rationale": RULES["VI-AVL-001"].rationale,
                          "example": RULES["VI-AVL-001"].example, "relaxed_by": ["dev"]}


HANDWRITTEN = Path(__file__).parent / "fixtures" / "handwritten"


def _findings(out: str) -> set[tuple[str, str, str]]:
    return {(f["rule"], f"{f['kind']}/{f['name']}", f["path"]) for f in json.loads(out)["findings"]}


def test_a_broken_file_is_a_finding_and_the_others_are_checked(tmp_path: Path) -> None:
    shutil.copytree(MANIFESTS_DIR / "prod", tmp_path / "prod")
    (tmp_path / "prod" / "broken.yaml").write_text("apiVersion: v1\nkind: [\n")
    code, out, _ = invoke("check", "-o", "json", str(tmp_path / "prod"))
    report = json.loads(out)
    assert code == 1
    assert [(f["rule"], f["file"].endswith("broken.yaml"), f["line"], f["message"]) for f in report["findings"]
            if f["status"] != "waived"] == [
        ("VI-YAML-001", True, 3, "YAML error: while parsing a flow node did not find expected node content")]
    clean = json.loads(invoke("check", "-o", "json", str(MANIFESTS_DIR / "prod"))[1])
    assert report["summary"]["objects"] == clean["summary"]["objects"]


def test_unreadable_input_still_prints_a_valid_sarif_log_and_json(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: [\n")
    code, out, err = invoke("check", "-o", "sarif", str(tmp_path / "x.yaml"))
    assert code == 2 and err.startswith("error: 1 input problem; nothing was checked")
    [run] = json.loads(out)["runs"]
    assert run["results"] == []
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"].startswith("YAML error:")
    code, out, _ = invoke("check", "-o", "json", str(tmp_path / "absent"))
    assert code == 2
    assert json.loads(out)["problems"] == [{"file": str(tmp_path / "absent"), "line": None,
                                            "message": "no such file or directory"}]
    code, out, _ = invoke("check", "-o", "junit", str(tmp_path / "x.yaml"))
    assert code == 2 and ET.fromstring(out).attrib["errors"] == "1"


def test_no_vllm_workload_is_a_notice_not_bad_input(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\n")
    code, out, _ = invoke("check", str(tmp_path / "x.yaml"))
    assert code == 0
    assert out.splitlines()[-2] == ("notice: no vLLM workload found (no pod template runs a vLLM container and no "
                                   "operator resource describes one); only the rules for Kubernetes objects applied")


def test_an_unrendered_placeholder_is_reported_and_the_rest_is_checked(tmp_path: Path) -> None:
    text = (HANDWRITTEN / "ray-and-kserve.yaml").read_text().replace(
        "- {name: MODEL, value: facebook/opt-125m}", "- name: HF_TOKEN\n                value: {{HF_TOKEN}}")
    (tmp_path / "x.yaml").write_text(text)
    code, out, _ = invoke("check", "-o", "json", str(tmp_path / "x.yaml"))
    report = json.loads(out)
    assert code == 1
    [unrendered] = [f for f in report["findings"] if f["rule"] == "VI-YAML-001"]
    assert (unrendered["line"], unrendered["severity"]) == (21, "critical")
    assert unrendered["message"].startswith("unrendered template placeholder {{HF_TOKEN}}: Kubernetes cannot read")
    assert ("VI-SEC-010", "RayCluster/pp-cluster", "spec.headGroupSpec.template.spec.containers[0].env[0].value") \
        in _findings(out)


def test_handwritten_shapes_are_read_like_kubernetes_reads_them() -> None:
    """CRD-wrapped pods, matchExpressions, init containers, underscore flags, $(VAR) and ${VAR}."""
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", str(HANDWRITTEN / "ray-and-kserve.yaml"))
    found = _findings(out)
    head = "spec.headGroupSpec.template.spec.containers[0]"
    assert code == 1
    assert {("VI-IMG-001", "RayCluster/pp-cluster", f"{head}.image"),
            ("VI-RES-002", "RayCluster/pp-cluster", f"{head}.resources.limits"),
            ("VI-RES-002", "LLMInferenceService/tool-calling", "spec.template.containers[0].resources.limits"),
            ("VI-IMG-001", "Deployment/cpu-server", "spec.template.spec.initContainers[0].image"),
            ("VI-ENV-001", "Deployment/cpu-server", "spec.template.spec.containers[0].env[0].value"),
            ("VI-RES-006", "Deployment/cpu-server", "spec.template.spec.containers[0].resources")} <= found
    rules = {rule for rule, _obj, _path in found}
    # CPU build: no GPU demanded; port 8080 is where vLLM listens (--port), so the numeric probe and
    # targetPort are fine; an unset namespace is the default one the Service names; no Pulumi marks.
    assert not rules & {"VI-RES-001", "VI-PRB-003", "VI-NET-003", "VI-PUL-001", "VI-SCH-001"}
    # $(MODEL) resolves from env: the model is named, not "$(MODEL)".
    assert not any("$(MODEL)" in f["message"] for f in json.loads(out)["findings"])


def test_missing_schemas_are_reported_unless_ignored() -> None:
    fixture = str(HANDWRITTEN / "ray-and-kserve.yaml")
    rules = {rule for rule, _obj, _path in _findings(invoke("check", "-o", "json", fixture)[1])}
    assert "VI-SCH-006" in rules
    ignored = _findings(invoke("check", "-o", "json", "--ignore-missing-schemas", fixture)[1])
    assert "VI-SCH-006" not in {rule for rule, _obj, _path in ignored}


def test_a_digest_waiver_does_not_cover_latest_and_goes_stale(prod: Path) -> None:
    """The waiver written for 'no digest of v0.32.0 yet' does not waive a move to :latest, and now
    covering nothing, is itself reported."""
    line = edit(prod / "deployment-llama-8b.yaml", "image: vllm/vllm-openai:v0.32.0", "image: vllm/vllm-openai:latest")
    code, out, _ = invoke("check", str(prod), "-o", "json")
    report = json.loads(out)
    failed = [(f["rule"], f["file"], f["line"], f["severity"]) for f in report["findings"] if f["status"] == "failed"]
    assert code == 1
    assert ("VI-IMG-001", str(prod / "deployment-llama-8b.yaml"), line, "high") in failed
    [latest] = [f for f in report["findings"] if f["rule"] == "VI-IMG-001" and f["status"] == "failed"]
    assert latest["subject"] == "vllm/vllm-openai:latest"
    assert latest["message"] == ("image vllm/vllm-openai:latest floats (no tag, or a moving tag such as 'latest' or "
                                 "'nightly') (waiver not applied: this failure cannot be waived)")
    [stale] = [f for f in report["findings"] if f["rule"] == "VI-WVR-001"]
    assert (stale["kind"], stale["name"], stale["path"]) == (
        "Deployment", "llama-8b", "metadata.annotations.vllm-infra.io/waive.VI-IMG-001")


def test_rdma_fails_a_waived_privileged_pod_and_ipc_lock_in_a_restricted_namespace(tmp_path: Path) -> None:
    tree = shutil.copytree(MANIFESTS_DIR / "prod", tmp_path / "prod")
    deployment = tree / "deployment-qwen-7b.yaml"
    edit(deployment, "          capabilities:\n            drop:\n",
         "          capabilities:\n            add: [IPC_LOCK]\n            drop:\n")
    code, out, _ = invoke("check", str(tree), "--profile", "rdma", "-o", "json")
    found = {(f["rule"], f["status"]) for f in json.loads(out)["findings"]}
    assert code == 1
    assert ("VI-SEC-017", "failed") in found and ("VI-SEC-004", "failed") not in found
    edit(deployment, "            add: [IPC_LOCK]\n", "")
    edit(deployment, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n          privileged: true")
    _, out, _ = invoke("check", str(tree), "--profile", "rdma", "-o", "json", "--rule", "VI-SEC-001")
    [finding] = json.loads(out)["findings"]
    edit(deployment, "  annotations:\n", f"  annotations:\n    vllm-infra.io/waive.VI-SEC-001: "
                                         f"accepts={finding['fingerprint']}; self-approved\n")
    code, out, _ = invoke("check", str(tree), "--profile", "rdma", "-o", "json", "--rule", "VI-SEC-001")
    [kept] = json.loads(out)["findings"]
    assert code == 1 and kept["status"] == "failed"
    assert kept["message"].endswith("(waiver not applied: critical findings cannot be waived under the rdma profile)")


def test_a_rendered_tree_is_judged_under_the_profile_its_marker_records() -> None:
    code, out, _ = invoke("check", str(MANIFESTS_DIR / "dev"), str(MANIFESTS_DIR / "prod"))
    assert code == 0, out
    assert out.splitlines()[-1].startswith(f"PASS: 68 objects, {len(RULES)} rules, profiles dev, restricted, ")
    code, out, _ = invoke("check", str(MANIFESTS_DIR / "dev"), "--profile", "restricted")
    assert code == 1  # an explicit profile wins over the marker
    code, out, _ = invoke("check", str(MANIFESTS_DIR / "dev" / "deployment-qwen-7b.yaml"), "-o", "json")
    assert json.loads(out)["summary"]["profile"] == "dev"
