"""Invariants that hold for every valid spec (hypothesis explores the combinations)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import MINIMAL_SERVICE, deep_update
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuType
from vllm_infra.checker.schemas.validator import SchemaValidator
from vllm_infra.render import RenderContext, render_service
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.vocabulary.units import parse_quantity

VALIDATOR = SchemaValidator()
CONTEXT = RenderContext(namespace="llm", part_of="fleet", environment="test")


@st.composite
def services(draw: st.DrawFn) -> VllmServiceSpec:
    gpu_type = draw(st.sampled_from(list(GpuType)))
    gpu = GPU_CATALOG[gpu_type]
    tensor = draw(st.sampled_from([1, 2, 4, 8]))
    pipeline = draw(st.sampled_from([1, 2]))
    assume(tensor * pipeline <= gpu.gpus_per_node)
    autoscaled = draw(st.booleans())
    min_scale = draw(st.integers(1, 4))
    changes: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6})?", fullmatch=True)),
        "model": {"id": draw(st.sampled_from(["meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.1-8B-Instruct",
                                              "Qwen/Qwen2.5-7B-Instruct"])),
                  "max_model_len": draw(st.sampled_from([4096, 8192])), "dtype": "float16"},
        "accelerator": {"type": gpu_type.value, "platform": draw(st.sampled_from(gpu.platforms()))},
        "parallelism": {"tensor": tensor, "pipeline": pipeline},
        "image": {"tag": "v0.18.1"},
        "lifecycle": {"startup_timeout": draw(st.integers(600, 7200)),
                      "drain": {"endpoint_delay": draw(st.integers(0, 60)),
                                "request_timeout": draw(st.integers(0, 600))}},
        "storage": {"model_cache": draw(st.sampled_from([
            {"type": "emptyDir"}, {"type": "pvc", "size": "300Gi"},
            {"type": "existingClaim", "claim_name": "weights", "offline": True}]))},
        "resources": {"memory": f"{draw(st.integers(8, 512))}Gi"},
        "availability": {"rollout": {"max_surge": draw(st.integers(0, 2)), "max_unavailable": draw(st.integers(1, 2))}},
        "metrics": {"service_monitor": draw(st.booleans())},
        "network_policy": {"enabled": draw(st.booleans())},
    }
    if autoscaled:
        changes["autoscaling"] = {"min_replicas": min_scale, "max_replicas": min_scale + draw(st.integers(0, 4)),
                                  "metric": draw(st.sampled_from(["queue-depth", "running-requests",
                                                                  "kv-cache-usage"]))}
    else:
        changes["availability"]["replicas"] = min_scale
    if min_scale > 1 and draw(st.booleans()):
        changes["availability"]["disruption_budget"] = {"min_available": draw(st.integers(0, min_scale - 1))}
    try:
        return VllmServiceSpec.model_validate(deep_update(MINIMAL_SERVICE, changes))
    except ValidationError:
        assume(False)
        raise


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services())
def test_rendered_service_invariants(service: VllmServiceSpec) -> None:
    objects = {obj["kind"]: obj for obj in render_service(service, CONTEXT)}
    workload = objects["Deployment"]
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    pod = workload["spec"]["template"]["spec"]
    container = pod["containers"][0]

    # every selector matches the pods it is meant for
    assert _selects(workload["spec"]["selector"]["matchLabels"], pod_labels)
    assert _selects(objects["Service"]["spec"]["selector"], pod_labels)
    if "PodDisruptionBudget" in objects:
        assert _selects(objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], pod_labels)
    if "HorizontalPodAutoscaler" in objects:
        ref = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == (workload["kind"], workload["metadata"]["name"])
        assert "replicas" not in workload["spec"]

    # GPUs: requests == limits == TP x PP
    resolved = service.resolved
    resource = resolved.gpu.resource_name
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert requests[resource] == limits[resource] == service.parallelism.tensor * service.parallelism.pipeline
    assert f"--tensor-parallel-size={service.parallelism.tensor}" in container["args"]
    assert f"--pipeline-parallel-size={service.parallelism.pipeline}" in container["args"]

    # memory request == limit and covers every memory-backed volume
    assert requests["memory"] == limits["memory"]
    tmpfs = sum(parse_quantity(v["emptyDir"]["sizeLimit"]) for v in pod["volumes"]
                if v.get("emptyDir", {}).get("medium") == "Memory")
    assert parse_quantity(limits["memory"]) > tmpfs

    # the PDB always permits at least one voluntary disruption at minimum scale
    if "PodDisruptionBudget" in objects:
        budget = objects["PodDisruptionBudget"]["spec"]
        assert budget.get("maxUnavailable", 0) >= 1 or budget["minAvailable"] < resolved.min_scale

    # probes cover the startup budget; drain fits in the grace period
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= resolved.startup_budget
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert pod["terminationGracePeriodSeconds"] > pre_stop + service.lifecycle.drain.request_timeout

    # everything validates strictly against the pinned Kubernetes schemas
    for obj in objects.values():
        assert VALIDATOR.validate(obj) == [], obj["kind"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True), min_size=2, max_size=2,
                unique=True))
def test_selectors_never_collide_between_services(names: list[str]) -> None:
    first, second = (VllmServiceSpec.model_validate(deep_update(MINIMAL_SERVICE, {"name": name})) for name in names)
    selector = {o["kind"]: o for o in render_service(first, CONTEXT)}["Service"]["spec"]["selector"]
    other = {o["kind"]: o for o in render_service(second, CONTEXT)}["Deployment"]
    assert not _selects(selector, other["spec"]["template"]["metadata"]["labels"])
