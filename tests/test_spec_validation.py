"""Every cross-field check fails at construction with its exact message, all at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from vllm_infra import spec as spec_module
from vllm_infra.spec import FleetSpec, VllmServiceSpec
from vllm_infra.vocabulary.paths import format_path

Build = Callable[..., dict[str, Any]]


def errors(model: type[BaseModel], data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [(format_path(tuple(err["loc"])), err["msg"]) for err in info.value.errors()]


def service_errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    return errors(VllmServiceSpec, data)


def test_minimal_service_is_valid(service_data: Build) -> None:
    service = VllmServiceSpec.model_validate(service_data()).resolved
    assert service.gpus_per_pod == 1
    assert service.min_scale == service.max_scale == 1
    assert service.disruption_budget_enabled


def test_gpu_count_must_equal_tensor_times_pipeline(service_data: Build) -> None:
    data = service_data(accelerator={"type": "H100-80GB", "count": 2}, parallelism={"tensor": 4})
    assert service_errors(data) == [(
        "accelerator.count",
        "accelerator.count (2) must equal parallelism.tensor (4) x parallelism.pipeline (1) / "
        "parallelism.nodes (1) = 4 GPUs per pod",
    )]


def test_gpus_derived_from_parallelism(service_data: Build) -> None:
    service = VllmServiceSpec.model_validate(service_data(
        accelerator={"type": "H100-80GB"}, parallelism={"tensor": 2, "pipeline": 2})).resolved
    assert service.gpus_per_pod == 4


def test_pod_cannot_need_more_gpus_than_a_node_has(service_data: Build) -> None:
    data = service_data(accelerator={"type": "H100-80GB"}, parallelism={"tensor": 8, "pipeline": 2})
    assert service_errors(data) == [(
        "parallelism.nodes",
        "one pod would need 16 GPUs but a H100-80GB node has 8: set parallelism.nodes to 2 or more",
    )]


def test_gpu_must_exist_on_platform(service_data: Build) -> None:
    data = service_data(accelerator={"type": "A10G", "platform": "gke"})
    assert service_errors(data) == [(
        "accelerator.platform",
        "A10G is not offered on platform gke (platforms with A10G: eks-auto, gpu-feature-discovery, karpenter)",
    )]


def test_bfloat16_rejected_on_t4(service_data: Build) -> None:
    data = service_data(accelerator={"type": "T4"}, model={"dtype": "bfloat16"})
    assert service_errors(data) == [("model.dtype", "T4 does not support bfloat16; set model.dtype to float16")]


def test_autoscaler_owns_replicas(service_data: Build) -> None:
    data = service_data(availability={"replicas": 3}, autoscaling={"min_replicas": 2, "max_replicas": 4})
    assert service_errors(data) == [(
        "availability.replicas",
        "the autoscaler owns the replica count (autoscaling.min_replicas is 2); remove availability.replicas",
    )]


def test_pdb_must_allow_a_disruption(service_data: Build) -> None:
    data = service_data(availability={"replicas": 2, "disruption_budget": {"min_available": 2}})
    assert service_errors(data) == [(
        "availability.disruption_budget.min_available",
        "min_available (2) must be below the minimum replica count (2), or no node running this model "
        "can be drained",
    )]


def test_pdb_max_unavailable_zero_rejected(service_data: Build) -> None:
    data = service_data(availability={"disruption_budget": {"max_unavailable": 0}})
    assert service_errors(data) == [("availability.disruption_budget.max_unavailable",
                                     "Input should be greater than or equal to 1")]


def test_pdb_on_by_default_even_at_one_replica(service_data: Build) -> None:
    """maxUnavailable 1 never blocks a drain, and the restricted profile requires a PDB (VI-AVL-001)."""
    assert VllmServiceSpec.model_validate(service_data()).resolved.disruption_budget_enabled
    scaled = service_data(autoscaling={"min_replicas": 1, "max_replicas": 3})
    assert VllmServiceSpec.model_validate(scaled).resolved.disruption_budget_enabled
    off = service_data(availability={"disruption_budget": {"enabled": False}})
    assert not VllmServiceSpec.model_validate(off).resolved.disruption_budget_enabled


def test_rollout_that_cannot_progress(service_data: Build) -> None:
    data = service_data(availability={"rollout": {"max_surge": 0, "max_unavailable": "25%"}})
    assert service_errors(data) == [(
        "availability.rollout",
        "max_surge (0) and max_unavailable (25%) resolve to 0 replicas at 1 replica(s); the rollout could never "
        "make progress",
    )]


def test_recreate_takes_no_surge(service_data: Build) -> None:
    data = service_data(availability={"rollout": {"strategy": "Recreate", "max_surge": 1}})
    assert service_errors(data) == [("availability.rollout.strategy",
                                     "max_surge and max_unavailable only apply to RollingUpdate")]


def test_read_write_once_cache_cannot_be_shared(service_data: Build) -> None:
    data = service_data(availability={"replicas": 2},
                        storage={"model_cache": {"type": "pvc", "size": "100Gi", "access_mode": "ReadWriteOnce"}})
    assert service_errors(data) == [(
        "storage.model_cache.access_mode",
        "a ReadWriteOnce volume attaches to one node, but up to 2 pods mount it; use ReadWriteMany, "
        "ReadOnlyMany or an emptyDir",
    )]


def test_read_write_once_cache_rejected_with_surge(service_data: Build) -> None:
    data = service_data(availability={"rollout": {"max_surge": 1, "max_unavailable": 0, "spare_gpus": 1}},
                        storage={"model_cache": {"type": "existingClaim", "claim_name": "weights",
                                                 "claim_access_mode": "ReadWriteOnce"}})
    assert service_errors(data) == [(
        "storage.model_cache.claim_access_mode",
        "a ReadWriteOnce volume attaches to one node, but a surge pod mounts it while the old one runs; use "
        "ReadWriteMany, ReadOnlyMany or an emptyDir",
    )]


def test_kv_cache_target_is_a_fraction(service_data: Build) -> None:
    data = service_data(autoscaling={"max_replicas": 2, "metric": "kv-cache-usage", "target": 70})
    assert service_errors(data) == [("autoscaling.target", "kv-cache-usage is a fraction between 0 and 1")]


def test_autoscaling_min_above_max(service_data: Build) -> None:
    for low, high in ((3, 2), (2, 2)):
        data = service_data(autoscaling={"min_replicas": low, "max_replicas": high})
        assert service_errors(data) == [("autoscaling.max_replicas",
                                         f"max_replicas ({high}) must exceed min_replicas ({low}); for a fixed count "
                                         "set availability.replicas instead")]


def test_literal_secrets_devices_and_owned_env_rejected(service_data: Build) -> None:
    data = service_data(env={"HF_TOKEN": "hf_abc", "CUDA_VISIBLE_DEVICES": "0", "HOME": "/root", "LOG": "1"},
                        secret_env={"LOG": {"name": "s"}})
    assert service_errors(data) == [
        ("env.CUDA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES bypasses the GPU device plugin; GPUs come from "
                                     "accelerator.count"),
        ("env.HF_TOKEN", "HF_TOKEN looks like a secret; literal secrets are never rendered: use secret_env "
                         "(or storage.hf_token_secret, security.api_key_secret)"),
        ("env.HOME", "HOME is set by vllm-infra"),
        ("secret_env.LOG", "LOG is already set elsewhere"),
    ]


def test_secret_values_are_not_echoed(service_data: Build) -> None:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(service_data(env={"DB_PASSWORD": "hunter2"}))
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(("image", "expected"), [
    ({"tag": "latest"}, [
        ("image.tag", "'latest' floats between releases; pin a release tag such as 'v0.11.0' or a digest"),
        ("image.vllm_version", "the tag does not name a vLLM release; set 'vllm_version' (e.g. '0.11.0')"),
    ]),
    ({"tag": None}, [
        ("image.tag", "set 'tag' or 'digest' so the image is pinned"),
        ("image.vllm_version", "the tag does not name a vLLM release; set 'vllm_version' (e.g. '0.11.0')"),
    ]),
])
def test_image_must_be_pinned(service_data: Build, image: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert service_errors(service_data(image=image)) == expected


def test_digest_only_image_with_version(service_data: Build) -> None:
    digest = "sha256:" + "a" * 64
    service = VllmServiceSpec.model_validate(service_data(image={"tag": None, "digest": digest,
                                                                 "vllm_version": "0.11.0"}))
    assert service.image.reference == f"vllm/vllm-openai@{digest}"
    assert str(service.image.version) == "0.11.0"


def test_model_revision_must_be_a_commit(service_data: Build) -> None:
    assert service_errors(service_data(model={"revision": "main"})) == [(
        "model.revision",
        "Value error, must be a full 40-character commit hash of the model repository (branch names and tags "
        "move); copy it from the model's 'Files and versions' history",
    )]


def test_extra_args_cannot_set_typed_flags(service_data: Build) -> None:
    data = service_data(model={"extra_args": {"tensor-parallel-size": 2, "enable-prefix-caching": True}})
    assert service_errors(data) == [("model.extra_args", "Value error, flags owned by typed fields: "
                                                         "'tensor-parallel-size' (set parallelism.tensor instead)")]


def test_unknown_keys_and_wrong_types_are_all_reported(service_data: Build) -> None:
    data = service_data(replicas=2, accelerator={"type": "L4", "count": "two"}, model={"max_num_seqs": 0})
    assert service_errors(data) == [
        ("model.max_num_seqs", "Input should be greater than 0"),
        ("accelerator.count", "Input should be a valid integer, unable to parse string as an integer"),
        ("replicas", "Extra inputs are not permitted"),
    ]


@pytest.mark.parametrize(("requirement", "message"), [
    ({"key": "pool", "operator": "In"}, "operator In needs at least one value"),
    ({"key": "pool", "operator": "Exists", "values": ["a"]}, "operator Exists takes no values"),
    ({"key": "pool", "operator": "Gt", "values": ["x"]}, "operator Gt takes exactly one integer"),
])
def test_node_requirements(service_data: Build, requirement: dict[str, Any], message: str) -> None:
    data = service_data(scheduling={"required_nodes": [requirement]})
    assert service_errors(data) == [("scheduling.required_nodes[0].values", message)]


def test_toleration_eviction_needs_no_execute(service_data: Build) -> None:
    data = service_data(scheduling={"tolerations": [{"key": "spot", "evict_after_seconds": 30}]})
    assert service_errors(data) == [("scheduling.tolerations[0].evict_after_seconds", "only valid with effect "
                                                                                      "NoExecute")]


def test_patch_operations_need_their_operands(service_data: Build) -> None:
    data = service_data(patches=[{"kind": "Deployment", "operations": [{"op": "add", "path": "/x"},
                                                                       {"op": "copy", "path": "/y"}]}])
    assert service_errors(data) == [("patches[0].operations[0].value", "op 'add' needs a value"),
                                    ("patches[0].operations[1].from", "op 'copy' needs 'from'")]


@pytest.mark.parametrize(("cache", "expected"), [
    ({"type": "existingClaim"}, [("storage.model_cache.claim_name", "type existingClaim needs 'claim_name'")]),
    ({"type": "emptyDir", "offline": True}, [("storage.model_cache.offline", "an emptyDir starts empty; offline "
                                                                            "needs a pre-populated claim (type "
                                                                            "existingClaim)")]),
    ({"type": "emptyDir", "storage_class": "fast"}, [("storage.model_cache.storage_class",
                                                      "only used with type pvc")]),
])
def test_model_cache_combinations(service_data: Build, cache: dict[str, Any],
                                  expected: list[tuple[str, str]]) -> None:
    assert service_errors(service_data(storage={"model_cache": cache})) == expected


def fleet(services: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"environment": "dev", "policy_profile": "dev", "namespace": {"name": "llm"}, "services": services,
            **extra}


def test_restricted_profile_requires_what_its_rules_require(service_data: Build) -> None:
    """synth never writes what `check --profile restricted` refuses: digests, PDBs, NetworkPolicies."""
    relaxed = service_data(availability={"disruption_budget": {"enabled": False}}, network_policy={"enabled": False})
    assert errors(FleetSpec, fleet([relaxed], policy_profile="restricted")) == [
        ("services[0].image.digest", "the restricted profile pins images by digest (VI-IMG-001); set image.digest "
                                     "(or say why not in image.unpinned_reason), or policy_profile: dev"),
        ("services[0].availability.disruption_budget.enabled", "the restricted profile requires a "
                                                               "PodDisruptionBudget (VI-AVL-001)"),
        ("services[0].network_policy.enabled", "every profile requires a NetworkPolicy around vLLM pods "
                                               "(VI-NET-001)"),
    ]
    stated = {**relaxed, "image": {**relaxed["image"], "unpinned_reason": "no trusted digest record yet"},
              "availability": {}, "network_policy": {"enabled": True}}
    assert FleetSpec.model_validate(fleet([stated], policy_profile="restricted")).services[0].image.digest is None
    assert errors(FleetSpec, fleet([relaxed])) == [
        ("services[0].network_policy.enabled", "every profile requires a NetworkPolicy around vLLM pods "
                                               "(VI-NET-001)")]
    dev = service_data(availability={"disruption_budget": {"enabled": False}})
    assert FleetSpec.model_validate(fleet([dev])).policy_profile == "dev"


def test_fleet_rejects_duplicate_names_and_shared_namespaces(service_data: Build) -> None:
    data = fleet([service_data(), service_data()], namespace={"name": "default"})
    assert errors(FleetSpec, data) == [
        ("namespace.name", "Value error, 'default' is shared with other workloads; use a dedicated namespace"),
        ("services[1].name", "duplicate service name (also services[0])"),
    ]


def test_fleet_defaults_merge_under_each_service(service_data: Build) -> None:
    second = service_data(name="other", accelerator={"type": "H100-80GB"})
    data = fleet([service_data(), second], defaults={"accelerator": {"type": "L40S"},
                                                      "availability": {"replicas": 2}})
    spec = FleetSpec.model_validate(data)
    assert [s.accelerator.type.value for s in spec.services] == ["L4", "H100-80GB"]
    assert [s.availability.replicas for s in spec.services] == [2, 2]


def test_fleet_defaults_must_be_a_mapping(service_data: Build) -> None:
    assert errors(FleetSpec, fleet([service_data()], defaults=[1])) == [
        ("", "Value error, 'defaults' must be a mapping of service fields")]


def _spec_models() -> list[type[BaseModel]]:
    return [obj for obj in vars(spec_module).values()
            if isinstance(obj, type) and issubclass(obj, BaseModel)]


@pytest.mark.parametrize("model", _spec_models(), ids=lambda model: model.__name__)
def test_every_field_is_documented_with_its_default(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        if not field.is_required():
            assert "Default" in field.description, f"{model.__name__}.{name} does not document its default"
        else:
            assert "Required" in field.description, f"{model.__name__}.{name} does not say it is required"


def test_probe_timings_check_would_reject_are_refused(service_data: Build) -> None:
    """The spec refuses what VI-PRB-002 reports: readiness dropping a pod on one failure, and
    liveness restarting after less than 30 s of failures."""
    data = service_data(lifecycle={"readiness": {"failure_threshold": 1},
                                   "liveness": {"period_seconds": 5, "failure_threshold": 3}})
    assert service_errors(data) == [
        ("lifecycle.readiness.failure_threshold", "Input should be greater than or equal to 2"),
        ("lifecycle.liveness.period_seconds", "liveness restarts after a 15s stall (period_seconds x "
                                              "failure_threshold); allow at least 30s"),
    ]


def test_a_fields_own_bound_holds_on_int32_fields(service_data: Build) -> None:
    """Int32 fields keep their tighter bounds (a port, a node-preference weight): the int32 limit is a
    validator, so it cannot replace them."""
    data = service_data(service={"port": 70000},
                        scheduling={"preferred_nodes": [{"key": "a", "values": ["b"], "weight": 1000}]})
    assert service_errors(data) == [
        ("scheduling.preferred_nodes[0].weight", "Input should be less than or equal to 100"),
        ("service.port", "Input should be less than or equal to 65535")]
    assert service_errors(service_data(availability={"replicas": 2**31})) == [
        ("availability.replicas", "Input should be less than or equal to 2147483647")]
