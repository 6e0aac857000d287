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
        "image": {"tag": "v0.18.1", "digest": DIGEST},
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


LWS_FLEET: dict[str, Any] = {
    **{key: value for key, value in GOOD_FLEET.items() if key != "services"},
    "services": [{"name": "llama", "model": {"id": "meta-llama/Llama-3.1-405B-Instruct", "max_model_len": 32768},
                  "accelerator": {"type": "H100-80GB"}, "parallelism": {"tensor": 8, "pipeline": 2, "nodes": 2},
                  "availability": {"replicas": 2},
                  "storage": {"model_cache": {"type": "pvc", "size": "1Ti", "access_mode": "ReadWriteMany"}}}],
}
_LWS_OBJECTS = render_fleet(FleetSpec.model_validate(LWS_FLEET))


def lws_objects() -> list[dict[str, Any]]:
    """A known-good multi-node group: Llama 405B over 2 pods of 8 H100s (TP=8 x PP=2)."""
    return copy.deepcopy(_LWS_OBJECTS)


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
