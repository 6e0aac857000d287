"""``vllm-infra diff`` between two trees of stack files and between git revisions: field-level
object changes, replacements, and the consequences (GPUs, cost, capacity, findings)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import STACKS_DIR, canary_70b
from vllm_infra.cli import app
from vllm_infra.operations.diff import StackDiff, object_changes
from vllm_infra.operations.diff_report import MARKER, render_markdown

runner = CliRunner()


def copy_stacks(target: Path) -> Path:
    shutil.copytree(STACKS_DIR, target)
    return target


def diff(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["diff", "-q", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    base, head = copy_stacks(tmp_path / "base"), copy_stacks(tmp_path / "head")
    canary_70b(head)
    return base, head


def test_text_diff_names_fields_gpus_cost_capacity_and_findings(trees: tuple[Path, Path]) -> None:
    base, head = trees
    code, out, _ = diff("--base", str(base), "--head", str(head), "prod")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "prod: 13 changed, 1 added, 1 removed"
    block = lines[lines.index("  ~ Deployment/llama-70b") + 1:lines.index("  ~ Deployment/llama-8b")]
    assert "      spec.template.spec.containers[0].args[4]: --tensor-parallel-size=4 -> --tensor-parallel-size=8" \
        in block
    assert "      spec.template.spec.containers[0].image: vllm/vllm-openai:v0.32.0 -> vllm/vllm-openai:v0.33.0" \
        in block
    assert "      spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: 4 -> 8" in block
    assert lines[lines.index("  GPUs (min-max):") + 1] == "    H100-80GB 58-70 -> 66-86"
    assert lines[lines.index("  cost:") + 1] == \
        "    $172,869-203,539 -> $199,577-249,441 per month (+45,902 at maximum)"
    assert lines[lines.index("  services:") + 1] == (
        "    llama-70b: 4 x H100-80GB -> 8 x H100-80GB per replica, KV cache 451,344 -> 1,335,904 tokens")
    assert "  findings added:" not in lines and "  findings resolved:" not in lines  # the waiver moved with the image
    assert lines[lines.index("  waivers:") + 1].startswith(
        "    ~ Deployment/llama-70b: VI-IMG-001 waiver changed: accepts=vllm/vllm-openai:v0.32.0; No trusted record")
    assert lines[lines.index("  waivers:") + 1].endswith("-> accepts=vllm/vllm-openai:v0.33.0; canary of the next "
                                                         "release")
    assert not any("REPLACED" in line for line in lines)


def test_markdown_diff_is_a_sticky_comment_with_a_table_and_a_section_per_stack(trees: tuple[Path, Path]) -> None:
    base, head = trees
    code, out, _ = diff("--base", str(base), "--head", str(head), "-o", "markdown")
    assert code == 0
    assert out.startswith(f"{MARKER}\n### vllm-infra diff\n")
    assert ("| prod | 13 changed, 1 added, 1 removed | H100-80GB 58-70 -&gt; 66-86 | $172,869-203,539 -&gt; "
            "$199,577-249,441 per month (+45,902 at maximum) | +0 / -0 |") in out.splitlines()
    assert "| dev | no object changes | unchanged | unchanged | +0 / -0 |" in out.splitlines()
    assert "<details><summary><b>prod</b>: 13 changed, 1 added, 1 removed</summary>" in out
    assert "  - `spec.template.spec.containers[0].args[4]: --tensor-parallel-size=4 -> --tensor-parallel-size=8`" \
        in out.splitlines()
    assert "<b>dev</b>" not in out  # nothing changed there: no section


def test_json_diff(trees: tuple[Path, Path]) -> None:
    base, head = trees
    code, out, _ = diff("--base", str(base), "--head", str(head), "prod", "-o", "json")
    document = json.loads(out)
    (prod,) = document["stacks"]
    assert (code, prod["stack"], prod["gpus"]) == (0, "prod", {"H100-80GB": [[58, 70], [66, 86]]})
    changed = {c["kind"] + "/" + c["name"]: c for c in prod["objects"]}
    assert {"path": "spec.template.spec.containers[0].args[4]", "before": "--tensor-parallel-size=4",
            "after": "--tensor-parallel-size=8"} in changed["Deployment/llama-70b"]["fields"]


def test_a_selector_change_is_a_replacement(tmp_path: Path) -> None:
    base, head = copy_stacks(tmp_path / "base"), copy_stacks(tmp_path / "head")
    path = head / "Pulumi.staging.yaml"
    text = path.read_text()
    anchor = "      - name: llama-8b\n"
    assert anchor in text
    patch = ("        patches:\n          - kind: Deployment\n            operations:\n"
             "              - {op: add, path: /spec/selector/matchLabels/tier, value: gpu}\n"
             "              - {op: add, path: /spec/template/metadata/labels/tier, value: gpu}\n")
    path.write_text(text.replace(anchor, anchor + patch, 1))
    code, out, _ = diff("--base", str(base), "--head", str(head), "staging")
    assert code == 0
    assert ("      REPLACED: spec.selector cannot change in place; the object is deleted and recreated"
            in out.splitlines())
    assert diff("--base", str(base), "--head", str(head), "staging", "--fail-on-replace")[0] == 1


def test_replacements_by_kind() -> None:
    def pvc(storage_class: str, size: str) -> dict[str, object]:
        return {"kind": "PersistentVolumeClaim", "metadata": {"name": "c", "namespace": "n"},
                "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": size}}}}

    (grown,) = object_changes([pvc("fast", "1Ti")], [pvc("fast", "2Ti")])
    assert grown.replaced_by == ()
    (moved,) = object_changes([pvc("fast", "1Ti")], [pvc("slow", "1Ti")])
    assert moved.replaced_by == ("spec.storageClassName",)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


def test_default_base_is_the_merge_base_with_the_default_branch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    repo = tmp_path / "repo"
    copy_stacks(repo / "stacks")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stacks")
    git(repo, "checkout", "-qb", "feature")
    canary_70b(repo / "stacks")
    monkeypatch.chdir(repo)
    code, out, _ = diff("prod")
    assert (code, out.splitlines()[0]) == (0, "prod: 13 changed, 1 added, 1 removed")
    git(repo, "commit", "-qam", "70b on TP 8")
    assert diff("--base", "main", "--head", "HEAD", "prod")[1].splitlines()[0] == "prod: 13 changed, 1 added, 1 removed"
    assert diff("--base", "HEAD", "prod")[1] == "prod: no object changes\n"


def test_an_unknown_revision_and_an_invalid_head_are_bad_input(tmp_path: Path) -> None:
    code, _, err = diff("--base", "no-such-revision", "--head", str(STACKS_DIR))
    assert code == 2
    assert "'no-such-revision' is neither a directory nor a git revision" in err
    head = copy_stacks(tmp_path / "head")
    dev = head / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("tag: v0.33.0", "tag: v0.18.2"))
    code, out, _ = diff("--base", str(STACKS_DIR), "--head", str(head), "dev")
    assert code == 2
    assert out.startswith("dev: invalid: 1 problem(s) in the stack file; first: ")
    assert "vLLM 0.18.2 was never released" in out


def test_markdown_stays_within_its_limit() -> None:
    many = [StackDiff(f"stack-{index}", object_changes([], [{"kind": "ConfigMap", "metadata": {"name": f"m{i}"}}
                                                            for i in range(50)])) for index in range(5)]
    text = render_markdown(many, limit=4_000)
    assert len(text) < 4_500
    assert text.rstrip().endswith("left out to keep this comment under 4,000 characters: run `vllm-infra diff` "
                                  "locally._")


def test_synth_check_diff_shows_how_the_committed_tree_differs(tmp_path: Path) -> None:
    stacks = copy_stacks(tmp_path / "stacks")
    out_dir = tmp_path / "manifests"
    assert runner.invoke(app, ["synth", "--stacks-dir", str(stacks), "--out", str(out_dir), "-q"]).exit_code == 0
    canary_70b(stacks)
    result = runner.invoke(app, ["synth", "--stacks-dir", str(stacks), "--out", str(out_dir), "--check", "--diff",
                                 "-q", "prod"])
    assert result.exit_code == 1
    assert "  ~ Deployment/llama-70b" in result.stdout.splitlines()
    assert "      spec.template.spec.containers[0].args[4]: --tensor-parallel-size=4 -> --tensor-parallel-size=8" \
        in result.stdout.splitlines()
    removed = [line for line in result.stdout.splitlines() if line.startswith("  - ")]
    assert [line.split("-prefetch-")[0] for line in removed] == ["  - Job/llama-70b"]  # the delivery object stays;
    # the prefetch Job of the old image goes (a Job's template is immutable: its successor has a new name)


def test_synth_check_diff_of_an_unchanged_delivered_stack_lists_nothing_removed(tmp_path: Path) -> None:
    stacks = copy_stacks(tmp_path / "stacks")
    out_dir = tmp_path / "manifests"
    assert runner.invoke(app, ["synth", "--stacks-dir", str(stacks), "--out", str(out_dir), "-q"]).exit_code == 0
    marker = out_dir / "staging" / ".vllm-infra-stack"
    marker.write_text(marker.read_text() + "# touched\n")  # drift, but no object changed
    result = runner.invoke(app, ["synth", "--stacks-dir", str(stacks), "--out", str(out_dir), "--check", "--diff",
                                 "-q", "staging"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{marker}: changed", "staging: no object changes"]


def test_a_finding_that_stays_on_its_field_is_one_change_and_waived_ones_are_not_new() -> None:
    from vllm_infra.operations.diff import _finding_lines

    key = ("VI-IMG-001", "Deployment", "llm", "llama", "spec.template.spec.containers[0].image")
    before = {key: "Deployment/llama: VI-IMG-001 high: image vllm/vllm-openai:v0.32.0 is not pinned by digest"}
    after = {key: "Deployment/llama: VI-IMG-001 high: image vllm/vllm-openai:v0.33.0 is not pinned by digest"}
    assert _finding_lines(before, after) == ([], [], [
        "Deployment/llama: VI-IMG-001 high: image vllm/vllm-openai:v0.32.0 is not pinned by digest -> image "
        "vllm/vllm-openai:v0.33.0 is not pinned by digest"])
    assert _finding_lines(before, {}) == ([], [before[key]], [])
