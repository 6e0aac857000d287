"""Synthetic fleets for benchmarks: N model services cycling through GPU types, parallelism,
autoscaling and storage options, so every renderer path and rule is exercised."""

from __future__ import annotations

from typing import Any

REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
DIGEST = "sha256:" + "b" * 64
_SHAPES: list[dict[str, Any]] = [
    {"accelerator": {"type": "L4"}, "availability": {"replicas": 2}},
    {"accelerator": {"type": "H100-80GB"}, "parallelism": {"tensor": 4},
     "autoscaling": {"min_replicas": 2, "max_replicas": 6}},
    {"accelerator": {"type": "L40S"}, "parallelism": {"tensor": 2}, "availability": {"replicas": 3},
     "storage": {"model_cache": {"type": "pvc", "size": "200Gi", "access_mode": "ReadWriteMany"}}},
    {"accelerator": {"type": "A100-80GB"}, "parallelism": {"tensor": 2},
     "autoscaling": {"min_replicas": 2, "max_replicas": 4, "metric": "kv-cache-usage"}},
]


def fleet(services: int, namespace: str = "bench") -> dict[str, Any]:
    """A fleet with ``services`` services (about 7-8 Kubernetes objects each)."""
    return {
        "name": "bench",
        "environment": "prod",
        "namespace": {"name": namespace},
        "defaults": {
            "image": {"tag": "v0.18.1", "digest": DIGEST},
            "model": {"max_model_len": 8192},
            "scheduling": {"priority_class": "serving"},
            "storage": {"hf_token_secret": {"name": "hf"}},
            "metrics": {"service_monitor": True},
            "network_policy": {"enabled": True, "api_client_namespaces": ["gateway"]},
        },
        "services": [
            {"name": f"model-{index:05d}",
             "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "revision": REVISION},
             **_SHAPES[index % len(_SHAPES)]}
            for index in range(services)
        ],
    }
