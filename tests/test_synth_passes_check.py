"""Anything synth accepts, check passes: hypothesis draws valid fleets across the spec's fields and
every rendered object has no finding at or above high under the fleet's policy profile. A spec
bound and a rule threshold that disagree show up here as a falsifying example."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import LLAMA_8B_REVISION
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuType
from vllm_infra.catalog.vllm_releases import release_catalog
from vllm_infra.checker.rules import RULES, RuleContext, evaluate
from vllm_infra.render import render_fleet
from vllm_infra.spec import FleetSpec
from vllm_infra.vocabulary.reporting import Profile, Severity

DIGEST = "sha256:" + "c" * 64
MODELS = ["meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct",
          "Qwen/Qwen3-30B-A3B", "meta-llama/Llama-3.1-70B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3",
          "acme/private-model"]
RELEASE_TAGS = [f"v{release.version}" for release in release_catalog().releases]
"""Every catalogued release: the renderer emits only flags each one accepts, and spec-time checks
refuse the extra_args a release would not parse (check's VI-VER-002 agrees)."""
LOADINGS: dict[str, dict[str, Any] | None] = {
    "": None, "prefetch": {"strategy": "prefetch"},
    "image": {"strategy": "image", "image": f"registry.example.com/models/weights:v1@{DIGEST}"},
    "stream": {"strategy": "stream", "uri": "s3://models/weights", "unpinned_reason": "a write-once bucket"}}
"""Every loading strategy: its Job, image volume or copy and streamer flags pass on the drawn version."""
SECONDS = st.one_of(st.integers(0, 4000), st.sampled_from(["90s", "10m", "1h30m"]))


def _autoscaling(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(0, 3))
    high = low + draw(st.integers(0, 4))
    scaling: dict[str, Any] = {"min_replicas": low, "max_replicas": high,
                               "metric": draw(st.sampled_from(["queue-depth", "running-requests", "kv-cache-usage"])),
                               "scale_down_stabilization": draw(st.integers(300, 1200)),
                               "scale_up_pods": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        scaling["scale_up_period"] = draw(st.integers(1, 1800))
    if draw(st.booleans()):
        scaling["target"] = draw(st.sampled_from([0.5, 1, 3, 20]))
    if draw(st.booleans()):
        scaling.update(backend="keda", prometheus_url="http://prometheus.monitoring:9090")
        if low == 0 or draw(st.booleans()):
            scaling["activation"] = {"query": "sum(rate(gateway_requests_total[2m]))"}
        if draw(st.booleans()):
            scaling["schedules"] = [{"name": "day", "start": "0 8 * * 1-5", "end": "0 18 * * 1-5",
                                     "min_replicas": draw(st.integers(1, 4))}]
    elif draw(st.booleans()):
        scaling["adapter_metric_name"] = "vllm_num_requests_waiting"
    return scaling


@st.composite
def fleets(draw: st.DrawFn, profile: Profile) -> FleetSpec:
    gpu_type = draw(st.sampled_from(list(GpuType)))
    gpu = GPU_CATALOG[gpu_type]
    nodes = draw(st.sampled_from([1, 1, 1, 2]))
    service: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)),
        "model": {"id": draw(st.sampled_from(MODELS)), "revision": LLAMA_8B_REVISION,
                  "max_model_len": draw(st.sampled_from([2048, 8192, 32768])),
                  "dtype": draw(st.sampled_from(["auto", "float16", "bfloat16"])),
                  "max_num_seqs": draw(st.sampled_from([16, 256])),
                  "gpu_memory_utilization": draw(st.sampled_from([0.5, 0.85, 0.9, 0.92])),
                  "extra_args": draw(st.sampled_from([{}, {"enable-prefix-caching": True},
                                                      {"enforce-eager": True, "max-num-batched-tokens": 4096},
                                                      {"enable-log-requests": True}, {"swap-space": 8},
                                                      {"disable-log-requests": True}]))},
        "image": {"tag": draw(st.sampled_from(RELEASE_TAGS))},
        "accelerator": {"type": gpu_type.value, "platform": draw(st.sampled_from(gpu.platforms() or ["gke"]))},
        "parallelism": {"tensor": draw(st.sampled_from([1, 2, 4, 8])), "pipeline": draw(st.sampled_from([1, 2])),
                        "nodes": nodes},
        "scheduling": {"spread_nodes": draw(st.sampled_from(["off", "preferred", "required"])),
                       "priority_class": draw(st.sampled_from([None, "serving"]))},
        "lifecycle": {"image_pull_timeout": draw(st.one_of(st.integers(300, 4000), st.sampled_from(["10m", "1h30m"]))),
                      "drain": {"endpoint_delay": draw(st.one_of(st.integers(1, 600), st.sampled_from(["90s", "10m"]))),
                                "request_timeout": draw(SECONDS)},
                      "liveness": {"failure_threshold": draw(st.integers(3, 5))},
                      "readiness": {"period_seconds": draw(st.integers(1, 30))}},
        "storage": {"model_cache": draw(st.sampled_from([
            {"type": "emptyDir"}, {"type": "pvc", "size": "300Gi"},
            {"type": "pvc", "access_mode": "ReadWriteOnce"},
            {"type": "existingClaim", "claim_name": "weights", "offline": True}])),
                    "shm_size": draw(st.sampled_from([None, "1Gi", "64Gi"])),
                    "hf_token_secret": draw(st.sampled_from([None, {"name": "hf"}]))},
        "resources": {"memory": draw(st.sampled_from([None, "8Gi", "64Gi", "512Gi"])),
                      "cpu": draw(st.sampled_from([None, "2", "500m"]))},
        "availability": {"rollout": {"max_surge": draw(st.sampled_from([None, 0, 1, "25%"])),
                                     "max_unavailable": draw(st.sampled_from([None, 0, 1, "50%"]))},
                         "disruption_budget": draw(st.sampled_from([{}, {"min_available": 1}, {"max_unavailable": 2},
                                                                    {"enabled": False}]))},
        "metrics": {"service_monitor": draw(st.booleans())},
        "network_policy": {"enabled": draw(st.sampled_from([True, True, False]))},
        "env": draw(st.sampled_from([{}, {"VLLM_LOGGING_LEVEL": "DEBUG"}])),
        "secret_env": draw(st.sampled_from([{}, {"OPENAI_API_KEY": {"name": "openai"}}])),
    }
    if draw(st.booleans()):
        service["model"].update(trust_remote_code=True, trust_remote_code_reason="reviewed by the platform team")
    if draw(st.booleans()):
        service["lifecycle"]["startup_timeout"] = draw(st.integers(600, 7200))
    if draw(st.booleans()):
        service["autoscaling"] = _autoscaling(draw)
    else:
        service["availability"]["replicas"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        service["routing"] = {"inference_pool": True, "endpoint_picker": "epp",
                              "gateway": {"name": "gw", "namespace": "gateway"}}
    version = draw(st.sampled_from(["1.29", "1.33", "1.35", "1.37"]))
    if version >= "1.34" and gpu.vendor == "nvidia" and draw(st.booleans()):
        service["accelerator"]["claim"] = True  # GPUs through a DRA claim: the rules size and check it all the same
    loading = draw(st.sampled_from(list(LOADINGS)))
    if loading:
        service["loading"] = LOADINGS[loading]
    if loading == "prefetch":
        service["storage"]["model_cache"] = {"type": "pvc", "size": "300Gi"}
    fleet: dict[str, Any] = {"environment": "test", "namespace": {"name": "llm"}, "policy_profile": profile.value,
                             "kubernetes_version": version,
                             "spare_gpus": {gpu_type.value: draw(st.sampled_from([0, 8, 16]))}, "services": [service]}
    if profile != Profile.DEV or draw(st.booleans()):
        service["image"]["digest"] = DIGEST
    try:
        return FleetSpec.model_validate(fleet)
    except ValidationError:
        assume(False)
        raise


def _gating(fleet: FleetSpec) -> list[tuple[str, str, str]]:
    context = RuleContext(profile=fleet.policy_profile, kubernetes_version=fleet.kubernetes_version)
    return [(finding.rule.id, finding.severity.value, finding.message)
            for finding in evaluate(render_fleet(fleet), RULES.values(), context)
            if finding.waiver is None and finding.severity.rank >= Severity.HIGH.rank]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(fleets(Profile.RESTRICTED))
def test_every_valid_restricted_fleet_passes_check(fleet: FleetSpec) -> None:
    assert _gating(fleet) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(fleets(Profile.DEV))
def test_every_valid_dev_fleet_passes_check_with_the_dev_profile(fleet: FleetSpec) -> None:
    assert _gating(fleet) == []


@st.composite
def fleets_on_clusters(draw: st.DrawFn) -> FleetSpec:
    """A drawn fleet with a drawn cluster inventory in place of ``spare_gpus``."""
    fleet = draw(fleets(Profile.RESTRICTED))
    service = fleet.services[0]
    pool = {"name": "gpu", "gpu": service.accelerator.type.value, "cpu": "190", "memory": "1900Gi",
            "ephemeral_storage": "2Ti", "platform": service.accelerator.platform.value,
            "nodes": draw(st.integers(0, 4)), "zones": draw(st.sampled_from([[], ["a"], ["a", "b"]]))}
    pool["max_nodes"] = pool["nodes"] + draw(st.integers(0, 4))
    data = fleet.model_dump(mode="json", exclude_unset=True)
    data.pop("spare_gpus", None)
    data["services"][0].get("availability", {}).get("rollout", {}).pop("spare_gpus", None)
    data["cluster"] = {"node_pools": [pool]}
    if draw(st.booleans()):  # Kueue: the quota bounds what the fleet holds and the spare GPUs rollouts surge into
        data["queue"] = {"name": "serving", "cluster_queue": "gpus"}
        data["cluster"]["cluster_queues"] = [{"name": "gpus", "gpus": {pool["gpu"]: draw(st.integers(1, 64))}}]
    try:
        return FleetSpec.model_validate(data)
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(fleets_on_clusters())
def test_what_synth_accepts_on_its_cluster_passes_check_without_one(fleet: FleetSpec) -> None:
    """synth's gate decides rollouts, drains and placement by simulating the stack's cluster; the
    committed tree is then checked without it (CI, CrossGuard), by the heuristics: those must not
    refuse what the simulation accepted."""
    from vllm_infra.checker.simulation.scenarios import simulate_manifests
    from vllm_infra.operations.simulate import cluster_of

    assert fleet.cluster is not None
    objects = render_fleet(fleet)
    simulated = RuleContext(profile=fleet.policy_profile, kubernetes_version=fleet.kubernetes_version,
                            simulation=simulate_manifests(cluster_of(fleet.cluster), objects))
    assume(not [f for f in evaluate(objects, RULES.values(), simulated)
                if f.waiver is None and f.severity.rank >= Severity.HIGH.rank])
    assert _gating(fleet) == []
