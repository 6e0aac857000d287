"""What a CI user of ``check`` relies on: a settings file, rule and path excludes, severity
overrides, their own CRD schemas, a baseline, pull-request annotations and the rule pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MANIFESTS_DIR
from vllm_infra.checker.rules import RULES
from vllm_infra.cli import app

runner = CliRunner()

WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: llm}
spec: {size: 3}
"""
WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              properties:
                size: {type: integer, maximum: 5}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of prod with a NodePort Service (VI-NET-002, high), checked from ``tmp_path``."""
    target = Path(shutil.copytree(MANIFESTS_DIR / "prod", tmp_path / "prod"))
    service = target / "service-qwen-7b.yaml"
    service.write_text(service.read_text().replace("type: ClusterIP", "type: NodePort"))
    monkeypatch.chdir(tmp_path)
    return target


def rules_found(out: str) -> set[str]:
    return {f["rule"] for f in json.loads(out)["findings"] if f["status"] == "failed"}


def test_a_settings_file_excludes_rules_and_paths_and_sets_severities(prod: Path) -> None:
    assert invoke("check", "prod", "-o", "json")[0] == 1
    Path(".vllm-infra.yaml").write_text("exclude_rules: [VI-NET-002]\n")
    assert invoke("check", "prod")[0] == 0
    Path(".vllm-infra.yaml").write_text("severity: {VI-NET-002: low}\n")
    code, out, _ = invoke("check", "prod", "-o", "json")
    assert code == 0 and [f["severity"] for f in json.loads(out)["findings"] if f["rule"] == "VI-NET-002"] == ["low"]
    Path(".vllm-infra.yaml").write_text("exclude_paths: ['prod/service-qwen*']\n")
    code, out, _ = invoke("check", "prod", "-o", "json")
    report = json.loads(out)
    assert "VI-NET-002" not in rules_found(out) and "1 input file excluded by exclude_paths" in report["notices"]
    assert report["summary"]["files_read"] == len(list(prod.rglob("*.yaml"))) - 1
    assert invoke("check", "prod", "--config", "/dev/null")[0] == 1  # an empty file: every default


def test_pyproject_holds_the_same_settings_and_options_win(prod: Path) -> None:
    Path("pyproject.toml").write_text('[tool.vllm-infra]\nfail_on = "critical"\n')
    assert invoke("check", "prod")[0] == 0
    assert invoke("check", "prod", "--fail-on", "high")[0] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("fail_on: severe\n", "fail_on: 'severe' is not one of critical, high, medium, low"),
    ("exclude_rule: [VI-NET-002]\n", "unknown setting exclude_rule (known: profile, kubernetes_version"),
    ("exclude_rules: [VI-NOPE-1]\n", "unknown rule id in .vllm-infra.yaml: VI-NOPE-1"),
    ("rules: VI-NET-002\n", "rules: expected a list of strings"),
    ("severity: [1]\n", "severity: expected a mapping of rule id to severity"),
    ("a: [\n", ".vllm-infra.yaml: not valid YAML"),
])
def test_a_bad_settings_file_exits_2_naming_the_file_and_key(prod: Path, text: str, message: str) -> None:
    Path(".vllm-infra.yaml").write_text(text)
    code, out, err = invoke("check", "prod")
    assert (code, out) == (2, "")
    assert message in err


def test_own_crd_schemas_validate_custom_resources(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(WIDGET)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "widgets.yaml").write_text(WIDGET_CRD)
    code, out, _ = invoke("check", str(tmp_path / "widget.yaml"), "-o", "json", "--rule", "VI-SCH-006")
    assert code == 0 and rules_found(out) == {"VI-SCH-006"}
    code, out, _ = invoke("check", str(tmp_path / "widget.yaml"), "-o", "json", "--schema-dir",
                          str(tmp_path / "schemas"), "--rule", "VI-SCH-001", "--rule", "VI-SCH-006")
    assert code == 0 and rules_found(out) == set()
    (tmp_path / "widget.yaml").write_text(WIDGET.replace("size: 3", "size: 9, color: red"))
    code, out, _ = invoke("check", str(tmp_path / "widget.yaml"), "-o", "json", "--schema-dir",
                          str(tmp_path / "schemas"), "--rule", "VI-SCH-001")
    messages = sorted(f["message"] for f in json.loads(out)["findings"])
    assert code == 1 and len(messages) == 2 and any("9 is greater than the maximum of 5" in m for m in messages)
    assert invoke("validate", str(tmp_path / "widget.yaml"), "--schema-dir", str(tmp_path / "schemas"))[0] == 1
    code, _, err = invoke("check", str(tmp_path / "widget.yaml"), "--schema-dir", str(tmp_path / "missing"))
    assert (code, err) == (2, f"error: --schema-dir: {tmp_path / 'missing'}: not a directory\n")


def test_kubeconform_catalog_layout_is_read(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(WIDGET)
    catalog = tmp_path / "catalog" / "example.com"
    catalog.mkdir(parents=True)
    (catalog / "widget_v1.json").write_text(json.dumps({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}, "additionalProperties": False}}}))
    code, out, _ = invoke("check", str(tmp_path / "widget.yaml"), "-o", "json", "--schema-dir",
                          str(tmp_path / "catalog"), "--rule", "VI-SCH-001", "--rule", "VI-SCH-006")
    assert code == 0 and rules_found(out) == set()


def test_a_baseline_keeps_accepted_findings_out_and_survives_line_moves(prod: Path) -> None:
    code, out, err = invoke("check", "prod", "--write-baseline", "baseline.json")
    assert code == 0 and err == "baseline.json: 1 finding written to the baseline\n"
    assert "VI-NET-002" in Path("baseline.json").read_text()
    service = prod / "service-qwen-7b.yaml"
    service.write_text("# a comment that moves every line\n\n" + service.read_text())
    code, out, _ = invoke("check", "prod", "--baseline", "baseline.json")
    assert code == 0
    assert out.splitlines()[-1].endswith("0 at or above high; 1 in the baseline")
    service.write_text(service.read_text().replace("type: NodePort", "type: LoadBalancer"))
    code, out, _ = invoke("check", "prod", "--baseline", "baseline.json", "-o", "json")
    report = json.loads(out)
    assert code == 1 and rules_found(out) == {"VI-NET-002"}  # a different finding is new
    assert "1 finding of the baseline baseline.json no longer occur; write the baseline again to drop them" in \
        report["notices"]
    Path("bad.json").write_text("[]")
    assert invoke("check", "prod", "--baseline", "bad.json")[:2] == (2, "")


def test_github_annotations(prod: Path) -> None:
    code, out, _ = invoke("check", "prod", "-o", "github")
    lines = out.splitlines()
    assert code == 1
    [error] = [line for line in lines if line.startswith("::error ")]
    assert error.startswith("::error file=prod/service-qwen-7b.yaml,line=")
    assert ",title=VI-NET-002 high%3A Services are ClusterIP only::Service/qwen-7b: Service type NodePort exposes " \
           "the inference API outside the cluster at spec.type%0AFix: " in error
    assert lines[-1].startswith("FAIL: 57 objects")


def test_rule_pages() -> None:
    code, out, _ = invoke("rules", "VI-PRB-001")
    assert code == 0
    rule = RULES["VI-PRB-001"]
    assert out.splitlines()[:2] == [f"VI-PRB-001: {rule.title}",
                                    f"severity {rule.severity}, resource rule, GPU-specific"]
    for section in ("Why:", "Fix:", "Example that fails:"):
        assert section in out
    assert rule.remediation in " ".join(out.split())
    assert invoke("rules", "vi-prb-001")[0] == 0
    code, _, err = invoke("rules", "VI-PRB-999")
    assert (code, err) == (2, "error: unknown rule id VI-PRB-999 (see `vllm-infra rules`)\n")


def test_every_rule_explains_itself() -> None:
    for rule in RULES.values():
        assert rule.rationale and rule.rationale.endswith("."), rule.id
        assert rule.example.strip(), rule.id
