"""Known-good objects for rule tests: a rendered prod-like fleet (zero findings under every rule)
and small helpers to mutate a copy."""

from __future__ import annotations

import copy
from typing import Any

from vllm_infra.render import render_fleet
from vllm_infra.spec import FleetSpec

DIGEST = "sha256:" + "a" * 64
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"

GOOD_FLEET: dict[str, Any] = {
    "name": "fleet",
    "environment": "prod",
    "namespace": {"name": "llm"},
    "defaults": {
        "image": {"tag": "v0.18.2", "digest": DIGEST},
        "model": {"revision": REVISION},
        "scheduling": {"priority_class": "serving"},
        "storage": {"hf_token_secret": {"name": "hf"}},
        "metrics": {"service_monitor": True},
        "network_policy": {"enabled": True, "api_client_namespaces": ["gateway"]},
    },
    "services": [
        {"name": "llama", "model": {"id": "meta-llama/Llama-3.1-70B-Instruct", "max_model_len": 16384},
         "accelerator": {"type": "H100-80GB"}, "parallelism": {"tensor": 2},
         "autoscaling": {"min_replicas": 2, "max_replicas": 4},
         "storage": {"model_cache": {"type": "pvc", "size": "300Gi", "access_mode": "ReadWriteMany"}},
         "routing": {"inference_pool": True, "endpoint_picker": "llm-epp",
                     "gateway": {"name": "gw", "namespace": "gateway"}}},
        {"name": "small", "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "max_model_len": 8192},
         "accelerator": {"type": "L4"}, "availability": {"replicas": 2}},
    ],
}

_GOOD_OBJECTS = render_fleet(FleetSpec.model_validate(GOOD_FLEET))


def good_objects() -> list[dict[str, Any]]:
    """A fresh deep copy of the known-good objects."""
    return copy.deepcopy(_GOOD_OBJECTS)


def lws_objects() -> list[dict[str, Any]]:
    """A known-good multi-node group: the 'llama' Deployment turned into a 2-pod LeaderWorkerSet
    (TP=2 x PP=2 over 2 pods of 2 GPUs), with a leader-only Service."""
    objects = [o for o in good_objects() if (o["metadata"].get("name") in ("llama", "llama-model-cache")
                                             or o["kind"] == "Namespace") and o["kind"] not in
               ("HorizontalPodAutoscaler", "PersistentVolumeClaim", "InferencePool", "HTTPRoute")]
    deployment = find(objects, "Deployment", "llama")
    template = deployment["spec"]["template"]
    template["spec"]["volumes"] = [v if v["name"] != "model-cache" else
                                   {"name": "model-cache", "emptyDir": {"sizeLimit": "300Gi"}}
                                   for v in template["spec"]["volumes"]]
    container = template["spec"]["containers"][0]
    container["resources"]["requests"]["ephemeral-storage"] = container["resources"]["limits"][
        "ephemeral-storage"] = "310Gi"
    container["args"] = [a.replace("--pipeline-parallel-size=1", "--pipeline-parallel-size=2")
                         for a in container["args"]]
    leader = copy.deepcopy(template)
    leader["metadata"]["labels"]["vllm-infra.io/role"] = "leader"
    worker = copy.deepcopy(template)
    worker["metadata"]["labels"]["vllm-infra.io/role"] = "worker"
    lws = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": deployment["metadata"],
        "spec": {"replicas": 2, "startupPolicy": "LeaderCreated",
                 "rolloutStrategy": {"type": "RollingUpdate",
                                     "rollingUpdateConfiguration": {"maxSurge": 0, "maxUnavailable": 1}},
                 "leaderWorkerTemplate": {"size": 2, "restartPolicy": "RecreateGroupOnPodRestart",
                                          "leaderTemplate": leader, "workerTemplate": worker}},
    }
    objects[objects.index(deployment)] = lws
    find(objects, "Service", "llama")["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"] = "0"
    policy = find(objects, "NetworkPolicy", "llama")["spec"]
    peers = [{"podSelector": {"matchLabels": {"leaderworkerset.sigs.k8s.io/name": "llama"}}}]
    policy["ingress"].append({"from": peers})
    policy["egress"].append({"to": peers})
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of this kind and name."""
    [match] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def pod(objects: list[dict[str, Any]], name: str = "llama") -> dict[str, Any]:
    """Pod spec of a Deployment."""
    spec: dict[str, Any] = find(objects, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def container(objects: list[dict[str, Any]], name: str = "llama") -> dict[str, Any]:
    """The vLLM container of a Deployment."""
    main: dict[str, Any] = pod(objects, name)["containers"][0]
    return main


def env_index(objects: list[dict[str, Any]], var: str, name: str = "llama") -> int:
    """Position of an environment variable in the vLLM container."""
    return [e["name"] for e in container(objects, name)["env"]].index(var)
