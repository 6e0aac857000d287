"""``vllm-infra simulate`` on the reference stacks and on a cluster too small for its fleet, and
``check --cluster``."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MANIFESTS_DIR, STACKS_DIR
from vllm_infra.cli import app

runner = CliRunner()

PROD_TABLE = [
    "  | workload | minimum | maximum | rollout | drain | zone-loss |",
    "  |---|---|---|---|---|---|",
    "  | Deployment/llm-prod/llama-70b | ok | ok | ok | ok | ok |",
    "  | Deployment/llm-prod/llama-70b-pd-decode | ok | ok | ok | ok | ok |",
    "  | Deployment/llm-prod/llama-70b-pd-epp | ok | ok | ok | ok | ok |",
    "  | Deployment/llm-prod/llama-70b-pd-prefill | ok | ok | ok | ok | ok |",
    "  | Deployment/llm-prod/llama-8b | ok | ok | ok | ok | ok |",
    "  | Deployment/llm-prod/qwen-7b | ok | ok | ok | ok | ok |",
    "  | LeaderWorkerSet/llm-prod/llama-405b | ok | ok | ok | ok | ok |",
]


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    shutil.copytree(STACKS_DIR, tmp_path / "stacks")
    return tmp_path / "stacks"


def simulate(stacks: Path, pictures: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["simulate", "--stacks-dir", str(stacks), "--pictures", str(pictures), "-q", *args])
    return result.exit_code, result.stdout, result.stderr


def test_reference_stacks_simulate_ok_and_draw_deterministic_pictures(stacks: Path, tmp_path: Path) -> None:
    code, out, _ = simulate(stacks, tmp_path / "pictures")
    assert code == 0
    lines = out.splitlines()
    start = lines.index(f"prod: ok (picture: {tmp_path / 'pictures' / 'prod.svg'})")
    assert lines[start + 1:start + 1 + len(PROD_TABLE)] == PROD_TABLE
    assert "  ok       scale-out NodePool/l4: 0 node(s) at rest, 1 at minimum scale, 2 at maximum scale (pool " \
           "maximum 3)" in lines
    first = {name: (tmp_path / "pictures" / f"{name}.svg").read_bytes() for name in ("dev", "staging", "prod")}
    svg = ET.fromstring(first["prod"])
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert {"minimum scale", "maximum scale"} <= set(titles)
    assert any(title and title.startswith("rollout of ") for title in titles)
    simulate(stacks, tmp_path / "pictures")
    assert {name: (tmp_path / "pictures" / f"{name}.svg").read_bytes() for name in first} == first


def without_cluster(stacks: Path, stack: str) -> None:
    """Drop a stack's ``cluster`` block (the lines up to its ``defaults``)."""
    path = stacks / f"Pulumi.{stack}.yaml"
    head, tail = path.read_text().split("    cluster:\n")
    path.write_text(head + "    defaults:" + tail.split("    defaults:", 1)[1])


def shrink_dev_cluster(stacks: Path) -> None:
    path = stacks / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("          max_nodes: 3\n", "          max_nodes: 0\n"))


def test_a_cluster_too_small_blocks_and_exits_1_with_the_schedulers_words(stacks: Path, tmp_path: Path) -> None:
    shrink_dev_cluster(stacks)
    code, out, _ = simulate(stacks, tmp_path, "dev")
    assert code == 1
    assert "  | Deployment/llm-dev/qwen-7b | blocked | degraded | ok | ok | ok |" in out.splitlines()
    assert ("  blocked  minimum   Deployment/llm-dev/qwen-7b: 0 of 1 replica(s) placed (0/1 nodes are available: 1 "
            "node(s) didn't match Pod's node affinity/selector.)") in out.splitlines()


def test_json_output_is_one_document_with_verdicts_and_pictures(stacks: Path, tmp_path: Path) -> None:
    without_cluster(stacks, "staging")
    code, out, _ = simulate(stacks, tmp_path, "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["skipped"] == ["staging"]
    assert [(s["stack"], s["worst"], s["picture"]) for s in document["stacks"]] == [
        ("dev", "ok", str(tmp_path / "dev.svg")), ("prod", "ok", str(tmp_path / "prod.svg"))]
    assert {o["scenario"] for o in document["stacks"][1]["outcomes"]} == {
        "minimum", "maximum", "rollout", "drain", "zone-loss", "scale-out"}


def test_stacks_without_an_inventory_are_listed_not_simulated(stacks: Path, tmp_path: Path) -> None:
    without_cluster(stacks, "staging")
    code, out, _ = simulate(stacks, tmp_path, "staging")
    assert (code, out) == (0, "staging: no cluster inventory (add `cluster:` to its stack file); not simulated\n")


def test_synth_refuses_a_fleet_that_cannot_schedule_on_its_cluster(stacks: Path, tmp_path: Path) -> None:
    shrink_dev_cluster(stacks)
    result = runner.invoke(app, ["synth", "dev", "--stacks-dir", str(stacks), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2
    assert "VI-CLU-001 critical: minimum on the declared cluster blocked: 0 of 1 replica(s) placed" in result.stderr
    assert not (tmp_path / "out").exists()


def test_check_with_a_cluster_decides_rollouts_by_simulation(stacks: Path) -> None:
    result = runner.invoke(app, ["check", str(MANIFESTS_DIR / "dev"), "--profile", "dev", "--cluster",
                                 str(stacks / "Pulumi.dev.yaml"), "--rule", "VI-GPU-005", "--rule", "VI-CLU-001"])
    assert result.exit_code == 0, result.stdout
    shrink_dev_cluster(stacks)
    result = runner.invoke(app, ["check", str(MANIFESTS_DIR / "dev"), "--profile", "dev", "--cluster",
                                 str(stacks / "Pulumi.dev.yaml"), "--rule", "VI-CLU-001"])
    assert result.exit_code == 1
    assert "Deployment/qwen-7b: VI-CLU-001 critical: minimum on the declared cluster blocked" in result.stdout


def test_check_cluster_needs_a_stack_with_an_inventory(stacks: Path, tmp_path: Path) -> None:
    without_cluster(stacks, "staging")
    result = runner.invoke(app, ["check", str(MANIFESTS_DIR / "staging"), "--cluster",
                                 str(stacks / "Pulumi.staging.yaml")])
    assert result.exit_code == 2
    assert "the stack declares no cluster inventory" in result.stderr


def test_a_cordoned_node_still_counts_as_a_spread_domain(stacks: Path, tmp_path: Path) -> None:
    """The README's example: with prod's L40S pool at 1 node (2 at most), required hostname
    spreading leaves the second qwen-7b replacement of an L40S drain Pending."""
    path = stacks / "Pulumi.prod.yaml"
    text = path.read_text()
    l40s = text.index("        - name: l40s")
    smaller = text[l40s:].replace("nodes: 2\n          max_nodes: 3", "nodes: 1\n          max_nodes: 2", 1)
    path.write_text(text[:l40s] + smaller)
    code, out, _ = simulate(stacks, tmp_path, "prod")
    assert code == 0
    assert ("  degraded drain     Deployment/llm-prod/qwen-7b: evicted from l40s-0; the replacement stays Pending "
            "(1 pod(s) left) (0/15 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 "
            "node(s) were unschedulable, 13 node(s) didn't match Pod's node affinity/selector. No node pool can grow "
            "to fit it (h100: node(s) didn't match Pod's node affinity/selector; l40s: at its maximum of 2 node(s)).)"
            ) in out.splitlines()
