"""Facts about vLLM beyond the release catalog's flags and metrics: how releases are written, the
default port, CPU builds, cache variables, load signals, the scheduler defaults of each release
and where CUDA graphs are counted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?")

class ImageBuild(StrEnum):
    """What a vLLM image was built for, as its publisher says."""

    CUDA = "cuda"
    ROCM = "rocm"
    CPU = "cpu"
    OTHER = "other"
    """TPU, Neuron, Gaudi, XPU: accelerators whose devices the GPU rules do not count."""


IMAGE_BUILDS: tuple[tuple[re.Pattern[str], ImageBuild], ...] = (
    (re.compile(r"(?:^|/)(?:vllm-openai-cpu|vllm-cpu[^/]*|[^/]*-cpu)$|(?:^|/)opea/vllm$"), ImageBuild.CPU),
    (re.compile(r"(?:^|/)vllm/vllm-tpu$|tpu|neuron|gaudi|habana|xpu|(?:^|/)intel/vllm"), ImageBuild.OTHER),
    (re.compile(r"(?:^|/)rocm/vllm(?:-dev)?$|rocm"), ImageBuild.ROCM),
    (re.compile(r"(?:^|/)vllm/vllm-openai$|(?:^|/)lmcache/vllm-openai$|(?:^|/)llm-d/llm-d(?:-cuda)?$"),
     ImageBuild.CUDA),
)
"""Image repositories by build, checked in order: vLLM's CUDA images (vllm/vllm-openai and the
projects that rebuild it as such), AMD's ROCm builds, the CPU builds (vllm/vllm-openai-cpu,
OPEA's opea/vllm), and other accelerators' builds. Any other image (ubuntu, python, a private
build) says nothing about the accelerator: a name alone decides nothing."""


def image_build(repository: str) -> ImageBuild | None:
    """The build an image repository is known to be, or None when its publisher does not say."""
    lowered = repository.lower()
    return next((build for pattern, build in IMAGE_BUILDS if pattern.search(lowered)), None)


NIXL_SIDE_CHANNEL_HOST_ENV = "VLLM_NIXL_SIDE_CHANNEL_HOST"
NIXL_SIDE_CHANNEL_PORT_ENV = "VLLM_NIXL_SIDE_CHANNEL_PORT"
NIXL_SIDE_CHANNEL_PORT = 5600
"""Where a NixlConnector engine publishes its KV cache's address to its peers: llm-d's port, and
vLLM's default in 0.20 (0.11 defaulted to 5557; vllm/envs.py)."""
NIXL_SIDE_CHANNEL_HOST_DEFAULT = "localhost"
"""What vLLM publishes as its side-channel host when ``VLLM_NIXL_SIDE_CHANNEL_HOST`` is unset: no
other pod can reach it."""
UCX_TRANSPORTS_ENV = "UCX_TLS"
UCX_RDMA_TRANSPORTS = frozenset({"rc", "rc_v", "rc_x", "rc_mlx5", "ud", "ud_v", "ud_x", "ud_mlx5", "dc", "dc_x",
                                 "dc_mlx5", "ib"})
"""UCX transports over InfiniBand/RoCE: they need an RDMA device in the container."""
NIXL_CONNECTOR = "NixlConnector"
KV_ROLES = ("kv_producer", "kv_consumer", "kv_both")
"""``kv_role`` values vLLM accepts (vllm/config/kv_transfer.py); a connector without one is refused."""
VLLM_SETTINGS = frozenset({"VLLM_PORT", "VLLM_DP_MASTER_PORT", NIXL_SIDE_CHANNEL_PORT_ENV})
"""Settings vLLM reads from the environment (vllm/envs.py) with a name a Service's injected
variables can take (``<NAME>_PORT``): each is parsed as an integer, so a Service named ``vllm``
(``VLLM_PORT=tcp://10.0.0.1:8000``) stops vLLM at start."""

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""``--max-lora-rank`` values the LoRA config accepts before the flag listed its choices (read in
0.10.0 and 0.11.0; 0.20 lists them, 1 included)."""
RUNTIME_LORA_ENV = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"
"""Lets API clients load and unload adapters (``/v1/load_lora_adapter``)."""

RUNAI_STREAMER_FORMAT = "runai_streamer"
"""``--load-format`` of the Run:ai model streamer, in every catalogued release (added in 0.6.6): it
reads safetensors from a local path or ``s3://`` straight into GPU memory; the vllm/vllm-openai image
ships ``runai-model-streamer[s3]``."""

VLLM_DEFAULT_PORT = 8000
"""Where `vllm serve` listens without ``--port`` (the API, /health and /metrics)."""

GENERATION_ENDPOINTS = ("/v1/completions", "/v1/chat/completions", "/v1/responses", "/v1/embeddings",
                        "/v1/audio/transcriptions", "/generate", "/pooling", "/classify", "/score", "/rerank",
                        "/v1/rerank", "/v1/score")
"""API paths that run the model (vllm/entrypoints/openai/api_server.py): a request waits in the
scheduler's queue behind every other one, unlike /health, which the API process answers itself."""


class VllmVersion(NamedTuple):
    """A vLLM release as (major, minor, patch, fix); tuples compare in release order. ``fix`` is the
    fourth part of hot-fix releases such as 0.10.1.1."""

    major: int
    minor: int
    patch: int
    fix: int = 0

    @classmethod
    def parse(cls, text: str) -> VllmVersion | None:
        """Read ``v0.11.0``, ``0.10.1.1`` or ``v0.9.2-cu128``; None if ``text`` names no release."""
        return _parse_version(text)

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}.{self.fix}" if self.fix else base


@lru_cache(maxsize=1024)
def _parse_version(text: str) -> VllmVersion | None:
    """Parsing is memoised: specs and rules ask for the same few tags thousands of times."""
    match = _VERSION.match(text)
    return VllmVersion(*(int(part or 0) for part in match.groups())) if match else None


CACHE_DIR_ENV = ("HOME", "HF_HOME", "XDG_CACHE_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR",
                 "TORCHINDUCTOR_CACHE_DIR", "NUMBA_CACHE_DIR")
"""Environment variables that decide where vLLM and its libraries (Hugging Face Hub, Triton,
torch.compile, Numba) write at run time; under a read-only root filesystem each must point at a
writable mount."""


class LoadSignal(StrEnum):
    """Per-pod load signals vLLM reports on ``/metrics`` that autoscalers can use."""

    QUEUE_DEPTH = "queue-depth"
    """``vllm:num_requests_waiting``: requests queued because the running batch is full."""
    RUNNING_REQUESTS = "running-requests"
    """``vllm:num_requests_running``: requests in the running batch."""
    KV_CACHE_USAGE = "kv-cache-usage"
    """``vllm:kv_cache_usage_perc`` (``vllm:gpu_cache_usage_perc`` before 0.9.2): 0-1."""


V1_ENGINE_SINCE = VllmVersion(0, 8, 0)
"""The V1 engine is the default from 0.8.0 (V0 before): it profiles differently (see capacity)."""

HYBRID_KV_SINCE = VllmVersion(0, 10, 0)
"""From 0.10.0 (read in 0.10.0, 0.11.0 and 0.20.x; 0.9 not checked) the hybrid KV-cache manager
keeps only the window of sliding-window and chunked-attention layers, unless a KV connector or KV
events are configured (then every layer keeps every token)."""
NIXL_SINCE = VllmVersion(0, 10, 0)
"""The first release read with the NixlConnector (vllm/distributed/kv_transfer/.../nixl_connector.py;
0.9 not checked)."""
NIXL_EITHER_TP_SINCE = VllmVersion(0, 19, 1)
"""NIXL transfers between different TP sizes when one divides the other: 0.10.0 and 0.11.0 refuse
a decode TP below the prefill TP ("Decode TP cannot be smaller than prefill TP"), 0.19.1 reads the
ratio either way (releases between not checked: treated as refusing)."""

HYBRID_KV_OFF_FLAGS = ("kv-transfer-config", "kv-events-config", "disable-hybrid-kv-cache-manager",
                       "kv-offloading-size")
"""Engine flags that turn the hybrid KV-cache manager off: a KV connector (CPU offloading is one:
vLLM configures its OffloadingConnector or LMCache's), KV events, or by hand."""
HYBRID_KV_FLAG = "disable-hybrid-kv-cache-manager"


def hybrid_kv_manager(flags: Mapping[str, object]) -> bool:
    """Whether the hybrid KV-cache manager may run: ``--disable-hybrid-kv-cache-manager`` is a
    three-way setting in vLLM's SchedulerConfig; unset, vLLM turns the manager off for the flags
    above, while ``--no-disable-hybrid-kv-cache-manager`` (False) keeps it on with a connector
    (llm-d's P/D guides pass it to NIXL)."""
    if flags.get(HYBRID_KV_FLAG) is False:
        return True
    return not any(flags.get(name) for name in HYBRID_KV_OFF_FLAGS)
CHUNKED_LOCAL_FULL_KV_SINCE = VllmVersion(0, 11, 0)
"""From 0.11.0 chunked local attention (Llama 4) turns the hybrid manager off unless
VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE=1 (0.10.0 kept it on)."""
REPORTED_BY_CONCURRENCY_SINCE = VllmVersion(0, 20, 2)
"""From 0.20.2 "GPU KV cache size: N tokens" is max concurrency x max_model_len (0.20.0 and
earlier: pool blocks // groups x block size), which counts more tokens for local attention."""
FLASHINFER_SAMPLER_SINCE = VllmVersion(0, 21, 0)
"""``VLLM_USE_FLASHINFER_SAMPLER`` defaults to true from 0.21.0 (0.20.x: opt-in): top-k/top-p
sampling on NVIDIA GPUs no longer sorts the vocabulary, and its warm-up peak shrinks."""
GRAPHS_IN_BUDGET_SINCE = VllmVersion(0, 21, 0)
"""From 0.21 vLLM estimates CUDA-graph memory inside ``gpu_memory_utilization``; before, graphs
were captured after the KV cache was allocated, in the memory the budget leaves free."""


class SchedulerDefaults(NamedTuple):
    """``max_num_seqs`` and ``max_num_batched_tokens`` vLLM picks when they are not given."""

    max_num_seqs: int
    max_num_batched_tokens: int


def scheduler_defaults(version: VllmVersion, device_bytes: int, device_name: str) -> SchedulerDefaults:
    """``EngineArgs._set_default_args`` for the OpenAI server of ``version``, as read in each
    release's ``engine/arg_utils.py``: 0.8.0-0.8.4 size by device name (H100/H200) with 1024
    sequences everywhere; 0.8.5 by memory (>= 70 GiB); from 0.9.0 A100s keep the small defaults;
    from 0.28.0 GPUs with >= 160 GiB get 16384 batched tokens. V0 (before 0.8) schedules 256
    sequences and, without chunked prefill, batches a whole ``max_model_len``."""
    name, gib = device_name.lower(), device_bytes / 2**30
    if version < V1_ENGINE_SINCE:
        return SchedulerDefaults(256, 0)
    if version < VllmVersion(0, 8, 5):
        large = "h100" in name or "h200" in name
        return SchedulerDefaults(1024, 8192 if large else 2048)
    if version >= VllmVersion(0, 28, 0) and gib >= 160:
        return SchedulerDefaults(1024, 16384)
    if gib >= 70 and (version < VllmVersion(0, 9, 0) or "a100" not in name):
        return SchedulerDefaults(1024, 8192)
    return SchedulerDefaults(256, 2048)
