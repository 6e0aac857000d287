"""Forked pieces: results in order, failures re-raised with the child's traceback, and the parallel
paths of check and synth give exactly what the serial ones give."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import MANIFESTS_DIR, STACKS_DIR
from vllm_infra.checker import pipeline
from vllm_infra.checker.runner import run_check
from vllm_infra.outputs import writers
from vllm_infra.outputs.drift import find_drift
from vllm_infra.outputs.synth import synthesize
from vllm_infra.outputs.tree import write_stack_dir
from vllm_infra.workers import ChildFailed, Forked, balanced_pieces, pieces, worker_count

needs_two_cpus = pytest.mark.skipif(worker_count() < 2, reason="the parallel paths need two usable CPUs")


def test_results_come_in_order_from_other_processes() -> None:
    results = list(Forked(lambda index: (index, os.getpid()), 7, 2))
    assert [index for index, _ in results] == list(range(7))
    assert os.getpid() not in {pid for _, pid in results}


def test_a_failure_in_a_child_is_raised_with_its_traceback() -> None:
    def piece(index: int) -> int:
        if index == 2:
            raise ValueError("bad piece")
        return index

    with pytest.raises(ValueError, match="bad piece") as raised:
        list(Forked(piece, 4, 2))
    assert isinstance(raised.value.__cause__, ChildFailed)
    assert "piece 2 failed in its child" in str(raised.value.__cause__)
    assert 'raise ValueError("bad piece")' in str(raised.value.__cause__)


def test_an_unpicklable_result_is_a_failure_not_a_hang() -> None:
    with pytest.raises(ChildFailed, match="pickle"):
        list(Forked(lambda index: (lambda: index), 2, 2))


def test_pieces_cover_the_range_once() -> None:
    assert pieces(10, 4) == [range(0, 4), range(4, 8), range(8, 10)]
    balanced = balanced_pieces(10_000, 2, minimum=500)
    assert [i for piece in balanced for i in piece] == list(range(10_000))
    assert len(balanced) == 8
    assert balanced_pieces(600, 2, minimum=500) == [range(0, 500), range(500, 600)]


@needs_two_cpus
def test_parallel_check_finds_what_the_serial_check_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "prod"
    shutil.copytree(MANIFESTS_DIR / "prod", target)
    deployment = target / "deployment-qwen-7b.yaml"
    deployment.write_text(deployment.read_text().replace("runAsNonRoot: true", "runAsNonRoot: false"))
    serial = run_check([str(target)])
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_FILES", 2)
    parallel = run_check([str(target)])
    assert serial.findings and parallel.findings == serial.findings
    assert [(o.source, o.document) for o in parallel.objects] == [(o.source, o.document) for o in serial.objects]


@needs_two_cpus
def test_parallel_writing_gives_the_golden_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "PART_MIN_OBJECTS", 2)
    [prod] = synthesize(STACKS_DIR, ["prod"])
    assert len(prod.parts()) > 3
    assert write_stack_dir(tmp_path / "prod", prod.parts()) is True
    assert find_drift(MANIFESTS_DIR / "prod", prod.parts()) == []
    assert {str(p.relative_to(tmp_path)): p.read_bytes() for p in (tmp_path / "prod").rglob("*") if p.is_file()} \
        == {str(p.relative_to(MANIFESTS_DIR)): p.read_bytes() for p in (MANIFESTS_DIR / "prod").rglob("*")
            if p.is_file()}
    assert write_stack_dir(tmp_path / "prod", prod.parts()) is False


def test_the_environment_caps_the_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_INFRA_WORKERS", "1")
    assert worker_count() == 1
    monkeypatch.setenv("VLLM_INFRA_WORKERS", "many")  # not a count: ignored
    assert worker_count() == min(4, len(os.sched_getaffinity(0)))
