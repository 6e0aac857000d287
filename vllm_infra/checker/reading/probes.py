"""Probe timings with the API server's defaults, and how long a vLLM workload takes to start
serving (the longer of its startup probe and its model's load budget)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vllm_infra.capacity.memory import DTYPE_BYTES, sizing_gap
from vllm_infra.capacity.startup import DOWNLOAD_MIB_PER_S, STREAM_MIB_PER_S, startup_seconds
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.huggingface import HUB_OFFLINE_ENV
from vllm_infra.catalog.quantization import effective_quantization
from vllm_infra.catalog.vllm import GENERATION_ENDPOINTS, RUNAI_STREAMER_FORMAT
from vllm_infra.checker.reading.accelerators import gpu_count
from vllm_infra.checker.reading.environment import env_values
from vllm_infra.checker.reading.objects import Manifest, as_list, dig
from vllm_infra.checker.reading.server import engine_args, vllm_pod_templates
from vllm_infra.checker.reading.templates import ContainerRef
from vllm_infra.vocabulary.kubernetes import PROBE_DEFAULTS
from vllm_infra.vocabulary.paths import FieldPath


def probe_field(probe: Mapping[str, Any], key: str) -> int:
    """A probe timing, or the API server's default when unset (or not a number)."""
    value = probe.get(key)
    return value if type(value) is int else PROBE_DEFAULTS[key]


def probe_budget(probe: Mapping[str, Any] | None) -> int:
    """Seconds a probe tolerates failing before acting (Kubernetes defaults applied)."""
    if not isinstance(probe, Mapping) or not probe:
        return 0
    return probe_field(probe, "initialDelaySeconds") + probe_field(probe, "periodSeconds") * probe_field(
        probe, "failureThreshold")



_LOCAL_URL = re.compile(r"\bhttps?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d+))?(/[^\s'\"]*)?")
"""A URL on the pod itself, as curl, wget or python are handed it in an exec hook or probe."""


@dataclass(frozen=True)
class LocalRequest:
    """A request a probe or lifecycle hook sends to its own pod."""

    port: int | str | None
    """The port (a number, a port name for httpGet, None for the URL scheme's default)."""
    path: str
    written: str
    """How the manifest says it (for messages)."""


def local_requests(handler: Any) -> tuple[LocalRequest, ...]:
    """What an httpGet or exec handler asks of its own pod (exec: URLs on localhost in its command)."""
    if not isinstance(handler, Mapping):
        return ()
    http = handler.get("httpGet")
    if isinstance(http, Mapping) and not http.get("host"):
        port = http.get("port")
        path = str(http.get("path") or "/")
        return (LocalRequest(port if isinstance(port, int | str) else None, path, f"httpGet {path} on port {port}"),)
    words = " ".join(str(word) for word in as_list(dig(handler, "exec", "command")))
    return tuple(LocalRequest(int(match.group(1)) if match.group(1) else None, match.group(2) or "/",
                              match.group(0)) for match in _LOCAL_URL.finditer(words))


def generation_request(handler: Any) -> LocalRequest | None:
    """The first request of a handler that runs the model (a completion, an embedding...)."""
    return next((request for request in local_requests(handler)
                 if request.path.split("?", 1)[0].rstrip("/") in GENERATION_ENDPOINTS), None)


def serving_templates(obj: Manifest) -> Iterator[tuple[FieldPath, Mapping[str, Any], ContainerRef]]:
    """(path, pod spec, vLLM container) of the templates that serve: LeaderWorkerSet workers only
    join their leader's server."""
    for template, serving in vllm_pod_templates(obj):
        if template.role != "worker":
            yield template.path, template.spec, serving


def load_budget(container: Mapping[str, Any], gpus_in_group: int, default: int) -> int:
    """Seconds a cold start of this container's model takes (catalog models), else ``default``; the
    model loads over the ``gpus_in_group`` the pod counts, or the GPUs its flags use when it counts
    none (its devices come from DRA claims or another accelerator)."""
    args = engine_args(container)
    arch = MODEL_CATALOG.get(args.repository or "")
    if arch is None:
        return default
    flag, dtype = args.flag("quantization"), args.flag("dtype")
    quantization = effective_quantization(flag if isinstance(flag, str) else None, arch.quantization)
    streamed = args.flag("load-format") == RUNAI_STREAMER_FORMAT and "://" in (args.model or "")
    downloads = env_values(container).get(HUB_OFFLINE_ENV) != "1" and not (args.model or "").startswith("/")
    rate = STREAM_MIB_PER_S if streamed else DOWNLOAD_MIB_PER_S if downloads else None
    return startup_seconds(arch, dtype=dtype if isinstance(dtype, str) and dtype in DTYPE_BYTES else "auto",
                           quantization=None if sizing_gap(arch, quantization) else quantization,
                           gpus=max(1, gpus_in_group or args.parallelism.world_size), streamed=streamed,
                           transfer_mib_per_s=rate)


def start_seconds(workload: Manifest, default: int) -> int:
    """How long the workload's vLLM pods take to start serving: the longer of the startup probe's
    budget and the model's load budget (``default`` when unknown or no vLLM container is found)."""
    return max((max(probe_budget(serving.spec.get("startupProbe")),
                    load_budget(serving.spec, gpu_count(serving.spec) * template.size, default))
                for template, serving in vllm_pod_templates(workload) if template.role != "worker"), default=default)

