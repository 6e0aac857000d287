"""Hostile input and bad days, round two: line endings, nested Lists, staging-named and linked
directories, dotted-anchor bombs, nesting past the recursion limit, concurrent and killed runs, a
container that is not an object, and an image a patch swaps under a digest waiver."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from benchmarks.fleet import fleet
from tests.conftest import MANIFESTS_DIR, ROOT, STACKS_DIR
from tests.test_kubernetes_yaml import YAMLSEM, documents
from vllm_infra.checker.loading import read_units
from vllm_infra.cli import app
from vllm_infra.outputs.tree import exclusive
from vllm_infra.serialization.emitter import dump

runner = CliRunner()
CLI = Path(sys.executable).parent / "vllm-infra"

PRIVILEGED = """\
# a privileged pod
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: llm}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: c
          image: busybox:1.36
          securityContext: {privileged: true}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def privileged_found(*paths: Path) -> int:
    code, out, _ = invoke("check", *map(str, paths), "--rule", "VI-SEC-001", "-o", "json")
    assert code in (0, 1)
    return sum(1 for finding in json.loads(out)["findings"] if finding["rule"] == "VI-SEC-001")


@pytest.mark.parametrize(("ending", "bom"), [("\n", b""), ("\r\n", b""), ("\r", b""), ("\r", b"\xef\xbb\xbf"),
                                             ("\r\n", b"\xef\xbb\xbf")])
def test_every_line_ending_and_a_bom_read_as_kubernetes_reads_them(tmp_path: Path, ending: str, bom: bytes) -> None:
    (tmp_path / "pod.yaml").write_bytes(bom + PRIVILEGED.replace("\n", ending).encode())
    assert privileged_found(tmp_path / "pod.yaml") == 1


@pytest.mark.skipif(not YAMLSEM.exists(), reason="../shared/bin/yamlsem is not on this machine")
@settings(max_examples=60, deadline=None)
@given(documents(), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_generated_files_with_any_line_ending_match_sigs_k8s_io_yaml(text: str, ending: str, bom: bool) -> None:
    """The object a file holds, read from its bytes as check reads them, equals what
    sigs.k8s.io/yaml (kubectl's reader) makes of the same bytes."""
    probe = Path("/tmp") / f"vllm-infra-endings-{os.getpid()}-{abs(hash((text, ending, bom)))}.yaml"
    probe.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.replace("\n", ending).encode())
    try:
        output = subprocess.run([str(YAMLSEM), str(probe)], capture_output=True, text=True, check=True).stdout
        [(objects, problems)] = list(read_units([str(probe)]))
    finally:
        probe.unlink()
    if output.startswith("ERROR:"):
        assert problems, (text, output)
        return
    truth = json.loads(output)
    if "kind" in truth and "apiVersion" in truth and not str(truth["kind"]).endswith("List"):
        assert [obj.manifest for obj in objects] == [truth], text


def test_lists_inside_lists_are_flattened_as_kubectl_does(tmp_path: Path) -> None:
    pod = json.loads(json.dumps(__import__("yaml").safe_load(PRIVILEGED)))
    nested = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "DeploymentList",
                                                        "items": [pod]}]}]}
    (tmp_path / "list.yaml").write_text(json.dumps(nested))
    assert privileged_found(tmp_path / "list.yaml") == 1
    code, out, _ = invoke("check", str(tmp_path / "list.yaml"), "--rule", "VI-SEC-001")
    assert code == 1
    assert f"{tmp_path / 'list.yaml'}:1: Deployment/bad" in out


def test_directories_named_like_staging_and_linked_ones_are_read(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name in (".dev.new-abc123", ".x.old-deadbeef"):
        (tree / name).mkdir(parents=True)
        (tree / name / "pod.yaml").write_text(PRIVILEGED)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "pod.yaml").write_text(PRIVILEGED)
    (tree / "linked").symlink_to(tmp_path / "elsewhere")
    (tree / "loop").symlink_to(tree)
    assert privileged_found(tree) == 3
    code, out, _ = invoke("check", str(tree), "-o", "json")
    assert code == 1
    assert any("link back into a directory already read (a loop)" in f["message"] for f in json.loads(out)["findings"])


def test_only_synths_own_staging_directories_are_left_out(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    writing = tree / ".dev.new-abc123"
    writing.mkdir(parents=True)
    (writing / "pod.yaml").write_text(PRIVILEGED)
    (writing / ".vllm-infra-staging").write_text("")
    replaced = tree / ".prod.old-deadbeef"
    replaced.mkdir()
    (replaced / "pod.yaml").write_text(PRIVILEGED)
    (replaced / ".vllm-infra-stack").write_text("stack: prod\npolicy_profile: restricted\n")
    (tree / "ok.yaml").write_text(PRIVILEGED.replace("privileged: true", "privileged: false"))
    assert privileged_found(tree) == 0
    (replaced / ".vllm-infra-stack").write_text("stack: dev\npolicy_profile: restricted\n")  # another stack's tree
    assert privileged_found(tree) == 1


def _bombed_stacks(tmp_path: Path, payload: str) -> Path:
    stacks = Path(shutil.copytree(STACKS_DIR, tmp_path / "stacks"))
    dev = stacks / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("  vllm-infra:fleet:\n", f"  vllm-infra:fleet:\n{payload}", 1))
    return stacks


DOTTED_BOMB = "".join(["    b0: &l.0 [x, x, x, x, x, x, x, x, x, x]\n"] + [
    f"    b{level}: &l.{level} [{', '.join([f'*l.{level - 1}'] * 10)}]\n" for level in range(1, 9)])


@pytest.mark.parametrize("command", [["synth"], ["plan"], ["simulate"], ["diff", "--base", "{stacks}",
                                                                          "--head", "{stacks}"]])
@pytest.mark.parametrize(("payload", "message"), [
    (DOTTED_BOMB, "aliases expand to more than 100000 nodes"),
    ("    deep: " + "[" * 1500 + "]" * 1500 + "\n", "nesting deeper than 100 levels"),
    ("    deep: &a.b " + "[" * 1500 + "]" * 1500 + "\n", "nesting deeper than 100 levels"),
])
def test_stack_file_bombs_are_refused_by_every_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       command: list[str], payload: str, message: str) -> None:
    stacks = _bombed_stacks(tmp_path, payload)
    monkeypatch.chdir(tmp_path)
    argv = [part.replace("{stacks}", str(stacks)) for part in command]
    if command[0] != "diff":
        argv += ["--stacks-dir", str(stacks)]
    started = time.monotonic()
    code, out, err = invoke(*argv, "-q") if command[0] in ("synth", "simulate", "diff") else invoke(*argv)
    assert time.monotonic() - started < 60  # bounded, not a hang (the real bound is far lower)
    assert code == 2
    assert message in err + out


def test_promote_refuses_a_bombed_stack(tmp_path: Path) -> None:
    stacks = _bombed_stacks(tmp_path, DOTTED_BOMB)
    code, _, err = invoke("promote", "--from", "dev", "--to", "staging", "--stacks-dir", str(stacks))
    assert code == 2 and "aliases expand to more than 100000 nodes" in err


def test_a_container_that_is_not_an_object_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: llm}\n"
                                     "spec:\n  template:\n    spec:\n      containers: [1]\n")
    code, out, err = invoke("check", str(tmp_path / "c.yaml"), "-o", "json")
    report = json.loads(out)
    assert code == 1 and "Traceback" not in err
    assert any(f["rule"] == "VI-SCH-001" for f in report["findings"])


def test_an_image_a_patch_swaps_is_not_covered_by_the_digest_waiver(tmp_path: Path) -> None:
    stacks = Path(shutil.copytree(STACKS_DIR, tmp_path / "stacks"))
    prod = stacks / "Pulumi.prod.yaml"
    text = prod.read_text()
    anchor = "      - name: qwen-7b\n"
    assert anchor in text
    prod.write_text(text.replace(anchor, anchor + "        patches:\n          - kind: Deployment\n"
                                 "            operations:\n              - {op: replace, path: "
                                 "/spec/template/spec/containers/0/image, value: 'ghcr.io/attacker/miner:v1'}\n", 1))
    code, _, err = invoke("synth", "--stacks-dir", str(stacks), "--out", str(tmp_path / "out"), "-q", "prod")
    assert code == 2
    assert "VI-IMG-001 high: image ghcr.io/attacker/miner:v1 is not pinned by digest" in err
    assert "(waiver not applied: it accepts vllm/vllm-openai:v0.32.0, not ghcr.io/attacker/miner:v1" in err
    assert not (tmp_path / "out" / "prod").exists()


def test_a_second_run_on_one_tree_waits_or_says_why_not(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    with exclusive(out, 0):
        code, _, err = invoke("synth", "--stacks-dir", str(STACKS_DIR), "--out", str(out), "--wait", "0", "-q")
        assert (code, err) == (2, f"error: {out} is being written by another vllm-infra run (waited 0s); nothing was "
                                  "written\n")
        code, _, err = invoke("promote", "--from", "staging", "--to", "prod", "--stacks-dir", str(out), "--wait", "0")
        assert code == 2 and "is being written by another vllm-infra run" in err
    assert not out.exists()  # the lock is a flock on a directory: nothing is made for it


@pytest.mark.slow
def test_two_concurrent_synths_leave_one_whole_tree(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    runs = []
    for _ in range(2):
        runs.append(subprocess.Popen([str(CLI), "synth", "--stacks-dir", str(STACKS_DIR), "--out", str(out), "-q"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT))
        time.sleep(0.1)
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    committed = {p.relative_to(MANIFESTS_DIR): p.read_bytes() for p in MANIFESTS_DIR.rglob("*")
                 if p.is_file() and p.relative_to(MANIFESTS_DIR).parts[0] != "kustomize"}
    written = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert written == committed


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_killing_synth_kills_its_workers(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.big.yaml").write_text(dump({"config": {"vllm-infra:fleet": fleet(600)}}))
    run = subprocess.Popen([str(CLI), "synth", "--stacks-dir", str(stacks), "--out", str(tmp_path / "out"), "-q"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ,
                                                                                     "VLLM_INFRA_WORKERS": "2"})
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while not workers and run.poll() is None and time.monotonic() < deadline:
        workers = _children(run.pid)
        time.sleep(0.01)
    if not workers:
        pytest.skip("the run ended before it forked workers")
    run.send_signal(signal.SIGKILL)
    run.wait()
    time.sleep(1.0)
    alive = {pid for pid in workers if Path(f"/proc/{pid}").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text()}
    assert alive == set()
