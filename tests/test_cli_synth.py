"""``vllm-infra synth``: exact output, exit codes, atomic writes, nothing written on bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, STACKS_DIR
from vllm_infra.cli import app

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(STACKS_DIR, tmp_path / "stacks")
    return tmp_path


def run(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["synth", "--stacks-dir", str(workspace / "stacks"),
                                 "--out", str(workspace / "manifests"), *args])
    return result.exit_code, result.stdout, result.stderr


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_synth_writes_every_stack_then_reports_unchanged(workspace: Path) -> None:
    out = workspace / "manifests"
    code, stdout, _ = run(workspace)
    assert code == 0
    assert stdout.splitlines() == [f"dev: 11 objects -> {out / 'dev'} (written)",
                                   f"prod: 56 objects -> {out / 'prod'} (written)",
                                   f"staging: 41 objects -> {out / 'staging'} (written)"]
    assert tree(out) == {path: content for path, content in tree(ROOT / "manifests").items()
                         if not path.startswith("kustomize/")}  # the second layout is written on request
    code, stdout, _ = run(workspace, "dev")
    assert (code, stdout) == (0, f"dev: 11 objects -> {out / 'dev'} (unchanged)\n")


def test_check_passes_then_lists_drift(workspace: Path) -> None:
    out = workspace / "manifests"
    run(workspace)
    code, stdout, _ = run(workspace, "--check")
    assert (code, stdout) == (0, f"{out}: up to date (3 stacks)\n")
    (out / "dev" / "service-llama-8b.yaml").write_text("edited\n")
    (out / "prod" / "service-qwen-7b.yaml").unlink()
    (out / "staging" / "stray.yaml").write_text("x: 1\n")
    code, stdout, stderr = run(workspace, "--check")
    assert code == 1
    assert stdout.splitlines() == [f"{out / 'dev' / 'service-llama-8b.yaml'}: changed",
                                   f"{out / 'prod' / 'service-qwen-7b.yaml'}: missing",
                                   f"{out / 'staging' / 'stray.yaml'}: extra"]
    assert stderr == "error: 3 files differ from the stacks; run `vllm-infra synth` and commit the result\n"


def test_the_kustomize_layout_is_written_whole_and_covered_by_the_drift_gate(workspace: Path) -> None:
    out = workspace / "manifests"
    code, stdout, _ = run(workspace, "--layout", "kustomize")
    assert (code, stdout) == (0, f"kustomize: base of 19 objects and 3 overlays -> {out / 'kustomize'} (written)\n")
    committed = ROOT / "manifests" / "kustomize"
    assert tree(out / "kustomize") == tree(committed)
    assert run(workspace, "--layout", "kustomize", "--check")[:2] == (0, f"{out}: up to date (3 stacks)\n")
    (out / "kustomize" / "overlays" / "prod" / "kustomization.yaml").write_text("edited\n")
    code, stdout, stderr = run(workspace, "--layout", "kustomize", "--check")
    assert (code, stdout) == (1, f"{out / 'kustomize' / 'overlays' / 'prod' / 'kustomization.yaml'}: changed\n")
    assert stderr == ("error: 1 file differ from the stacks; run `vllm-infra synth --layout kustomize` and commit "
                      "the result\n")
    code, _, stderr = run(workspace, "--layout", "kustomize", "prod")
    assert (code, stderr) == (2, "error: the kustomize layout is one tree for every stack (its base is shared): run "
                                 "it without stack names\n")


def test_a_stack_may_not_take_the_kustomize_layouts_directory(workspace: Path) -> None:
    shutil.copy(workspace / "stacks" / "Pulumi.dev.yaml", workspace / "stacks" / "Pulumi.kustomize.yaml")
    code, _, stderr = run(workspace)
    assert code == 2
    assert "stack name 'kustomize' is reserved for the kustomize layout (<out>/kustomize/)" in stderr


def test_bad_stack_exits_2_and_writes_nothing(workspace: Path) -> None:
    run(workspace)
    before = tree(workspace / "manifests")
    prod = workspace / "stacks" / "Pulumi.prod.yaml"
    text = prod.read_text().replace("max_replicas: 6", "max_replicas: 1")
    prod.write_text(text)
    line = text.splitlines().index("          max_replicas: 1", text.splitlines().index("      - name: llama-8b")) + 1
    code, stdout, stderr = run(workspace)
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == [
        "error: 1 problem in stack configuration; nothing was written",
        f"  {prod}:{line}: services[0].autoscaling.max_replicas: max_replicas (1) must exceed min_replicas (2); for a "
        "fixed count set availability.replicas instead (got 1)",
    ]
    assert tree(workspace / "manifests") == before


def test_unknown_stack_and_missing_directory(workspace: Path, tmp_path: Path) -> None:
    code, _, stderr = run(workspace, "qa")
    assert code == 2
    assert stderr == (f"error: 1 problem in stack configuration; nothing was written\n"
                      f"  {workspace / 'stacks' / 'Pulumi.qa.yaml'}: stack 'qa' not found (available: dev, prod, "
                      "staging)\n")
    result = runner.invoke(app, ["synth", "--stacks-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1] == f"  {tmp_path / 'none'}: no stack files (Pulumi.<stack>.yaml) found"


def test_failed_write_keeps_the_old_tree(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = workspace / "manifests"
    run(workspace)
    before = tree(out)
    prod = workspace / "stacks" / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text().replace("max_replicas: 6", "max_replicas: 7"))
    calls = {"n": 0}
    real_write = Path.write_bytes

    def failing_write(path: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # only the changed file is written
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    result = runner.invoke(app, ["synth", "prod", "--stacks-dir", str(workspace / "stacks"), "--out", str(out)],
                           catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot write ") and "No space left on device" in result.stderr
    assert result.stderr.rstrip().endswith(f"{out / 'prod'} was left as it was")
    assert tree(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["dev", "prod", "staging"]


def test_usage_error_exits_2() -> None:
    result = runner.invoke(app, ["synth", "--bogus"])
    assert result.exit_code == 2
    assert "No such option: --bogus" in result.stderr


@pytest.mark.slow
def test_console_script_runs_from_a_repo_checkout() -> None:
    script = Path(sys.executable).parent / "vllm-infra"
    help_run = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert help_run.returncode == 0
    assert "synth" in help_run.stdout
    check = subprocess.run([str(script), "synth", "--check"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert (check.returncode, check.stdout) == (0, "manifests: up to date (3 stacks)\n")


def test_a_patch_that_breaks_policy_is_refused_before_anything_is_written(workspace: Path) -> None:
    """The policy gate runs on the rendered objects in memory, so synth never writes what check refuses."""
    run(workspace)
    before = tree(workspace / "manifests")
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("""      - name: qwen-7b
""", """      - name: qwen-7b
        patches:
          - kind: Deployment
            operations:
              - {op: add, path: /spec/template/spec/hostIPC, value: true}
"""))
    code, stdout, stderr = run(workspace)
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == [
        "error: the rendered objects fail the policy gate; nothing was written",
        "  stacks/Pulumi.dev.yaml (rendered):1: Deployment/qwen-7b: VI-SEC-002 critical: pod shares the host's "
        "namespace (hostIPC: true) at spec.template.spec.hostIPC",
        "  stacks/Pulumi.dev.yaml (rendered):1: Deployment/qwen-7b: VI-SEC-017 critical: namespace llm-dev enforces "
        "the restricted Pod Security level, which refuses this pod: hostIPC: true at spec.template.spec.hostIPC",
    ]
    assert tree(workspace / "manifests") == before


def test_a_patch_may_not_rename_an_object(workspace: Path) -> None:
    """The file an object goes to comes from its kind and name: a patch that renamed it could write
    outside the tree or over another object, so it is refused with the patch's position."""
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("""      - name: qwen-7b
""", """      - name: qwen-7b
        patches:
          - kind: Service
            operations:
              - {op: replace, path: /metadata/name, value: ../../escaped}
"""))
    code, stdout, stderr = run(workspace, "dev")
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == [
        "error: 1 problem in stack configuration; nothing was written",
        f"  {dev}: services[qwen-7b].patches[0] on Service/qwen-7b: patches may not change apiVersion, kind, "
        "metadata.name or metadata.namespace (they decide the file an object is written to and what refers to it)",
    ]
    assert not (workspace / "manifests").exists()
    assert not (workspace.parent / "escaped.yaml").exists()


def test_an_unchanged_stack_is_not_rewritten_and_a_stray_file_is_removed(workspace: Path) -> None:
    out = workspace / "manifests"
    run(workspace, "dev")
    inodes = {p.name: p.stat().st_ino for p in (out / "dev").iterdir()}
    assert run(workspace, "dev")[1] == f"dev: 11 objects -> {out / 'dev'} (unchanged)\n"
    assert {p.name: p.stat().st_ino for p in (out / "dev").iterdir()} == inodes
    (out / "dev" / "stray.yaml").write_text("x: 1\n")
    assert run(workspace, "dev")[1] == f"dev: 11 objects -> {out / 'dev'} (written)\n"
    assert tree(out / "dev") == tree(ROOT / "manifests" / "dev")
    assert sorted(p.name for p in out.iterdir()) == ["dev"]  # no staging or backup left behind


def test_check_reads_the_tree_again_after_synth(workspace: Path) -> None:
    """No cache between synth and check: an edit on disk after synth changes check's verdict."""
    out = workspace / "manifests"
    assert run(workspace, "prod")[0] == 0
    passed = runner.invoke(app, ["check", str(out / "prod")])
    assert passed.exit_code == 0, passed.stdout
    deployment = out / "prod" / "deployment-qwen-7b.yaml"
    escalation = "allowPrivilegeEscalation: false"
    deployment.write_text(deployment.read_text().replace(escalation, f"{escalation}\n          privileged: yes", 1))
    failed = runner.invoke(app, ["check", str(out / "prod")])
    assert failed.exit_code == 1
    assert "VI-SEC-001 critical" in failed.stdout
    assert not any(Path.home().joinpath(".cache").glob("vllm-infra*"))
