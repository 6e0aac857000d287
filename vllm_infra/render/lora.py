"""LoRA on the vLLM pod: the slot flags and the adapters loaded at start (``--lora-modules``), an
init container that fetches each adapter at its pinned revision into the model cache first (vLLM
itself would fetch the repository's head), and runtime loading when the spec allows it."""

from __future__ import annotations

import json
import re
from typing import Any

from vllm_infra.catalog.gpus import hidden_gpus_env
from vllm_infra.catalog.huggingface import HUB_OFFLINE_ENV
from vllm_infra.catalog.vllm import RUNTIME_LORA_ENV
from vllm_infra.spec.environment import CACHE_PATH
from vllm_infra.spec.resolved import ResolvedService

FETCH_CONTAINER = "fetch-adapters"
FETCH_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
"""A download into the cache volume: one CPU, memory for the hub client's buffers."""


def adapter_path(name: str) -> str:
    """Where an adapter lives in the model cache."""
    return f"{CACHE_PATH}/lora/{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"


def adapter_downloads(service: ResolvedService) -> list[list[str]]:
    """``[repository, revision, path]`` of each adapter to download."""
    adapters = service.spec.lora.adapters if service.spec.lora else []
    return [[adapter.source, adapter.revision, adapter_path(adapter.name)] for adapter in adapters]


def lora_args(service: ResolvedService) -> list[str]:
    """``--enable-lora`` and the slots; the adapters last (``--lora-modules`` takes a list)."""
    lora = service.spec.lora
    if lora is None:
        return []
    args = ["--enable-lora", f"--max-loras={lora.max_loras}", f"--max-lora-rank={service.lora_rank}"]
    if lora.max_cpu_loras:
        args.append(f"--max-cpu-loras={lora.max_cpu_loras}")
    if lora.adapters:
        args += ["--lora-modules", *(f"{adapter.name}={adapter_path(adapter.name)}" for adapter in lora.adapters)]
    return args


def lora_env(service: ResolvedService) -> dict[str, str]:
    """Runtime loading, when allowed."""
    lora = service.spec.lora
    return {RUNTIME_LORA_ENV: "True"} if lora is not None and lora.runtime_loading else {}


def fetch_adapters(service: ResolvedService, server: dict[str, Any]) -> dict[str, Any] | None:
    """The init container that downloads the adapters at their revisions, with the server's image,
    environment (online), mounts and security context (None without adapters, with an offline cache,
    which must hold them already, or after a prefetch Job, which fetched them)."""
    if not service.fetches_adapters_at_start:
        return None
    script = ("import json, sys\nfrom huggingface_hub import snapshot_download\n"
              "for repo, revision, path in json.loads(sys.argv[1]):\n"
              "    snapshot_download(repo_id=repo, revision=revision, local_dir=path)\n")
    env = [item for item in server["env"] if item["name"] not in (RUNTIME_LORA_ENV, HUB_OFFLINE_ENV)]
    hidden = [{"name": name, "value": value} for name, value in hidden_gpus_env(service.gpu.vendor).items()]
    env = sorted([*env, *hidden], key=lambda item: item["name"])
    return {
        "name": FETCH_CONTAINER,
        "image": server["image"],
        "imagePullPolicy": server["imagePullPolicy"],
        "command": ["python3", "-c", script, json.dumps(adapter_downloads(service), separators=(",", ":"))],
        "env": env,
        "resources": FETCH_RESOURCES,
        "securityContext": server["securityContext"],
        "volumeMounts": server["volumeMounts"],
    }
