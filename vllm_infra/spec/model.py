"""What model vLLM serves and how the engine is tuned."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.huggingface import REPOSITORY_ID_PATTERN, is_commit_hash
from vllm_infra.spec.base import Int32, Problem, SpecModel, raise_problems
from vllm_infra.vocabulary.limits import GPU_MEMORY_UTILIZATION_MAX

FlagName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]

RESERVED_ENGINE_FLAGS: dict[str, str] = {
    "model": "model.id",
    "revision": "model.revision",
    "code-revision": "model.revision (with model.trust_remote_code)",
    "served-model-name": "model.served_name",
    "dtype": "model.dtype",
    "quantization": "model.quantization",
    "kv-cache-dtype": "model.kv_cache_dtype",
    "max-model-len": "model.max_model_len",
    "max-num-seqs": "model.max_num_seqs",
    "gpu-memory-utilization": "model.gpu_memory_utilization",
    "trust-remote-code": "model.trust_remote_code",
    "tensor-parallel-size": "parallelism.tensor",
    "pipeline-parallel-size": "parallelism.pipeline",
    "distributed-executor-backend": "parallelism.nodes",
    "nnodes": "parallelism.nodes",
    "node-rank": "parallelism.nodes",
    "master-addr": "parallelism.nodes",
    "master-port": "parallelism.nodes",
    "headless": "parallelism.nodes",
    "port": "service.port",
    "host": "service.port",
    "api-key": "security.api_key_secret",
    "download-dir": "storage.model_cache",
    "enable-lora": "lora",
    "max-loras": "lora.max_loras",
    "max-lora-rank": "lora.max_lora_rank",
    "max-cpu-loras": "lora.max_cpu_loras",
    "lora-modules": "lora.adapters",
    "kv-offloading-size": "model.kv_offload.size_gib",
    "kv-offloading-backend": "model.kv_offload.backend",
    "shutdown-timeout": "lifecycle.drain.request_timeout",
    "data-parallel-size": "availability.replicas (data parallelism inside a pod is not supported)",
}
"""Engine flags owned by typed fields; ``extra_args`` may not set them, so each has one source."""


class Dtype(StrEnum):
    """Weight and activation precision (vLLM ``--dtype``)."""

    AUTO = "auto"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    FLOAT32 = "float32"


class Quantization(StrEnum):
    """Pre-quantized checkpoint formats (vLLM ``--quantization``)."""

    AWQ = "awq"
    GPTQ = "gptq"
    FP8 = "fp8"
    BITSANDBYTES = "bitsandbytes"
    MXFP4 = "mxfp4"


class KvCacheDtype(StrEnum):
    """KV-cache precision (vLLM ``--kv-cache-dtype``)."""

    AUTO = "auto"
    FP8 = "fp8"


class ArchitectureSpec(SpecModel):
    """Architecture facts for a model missing from the catalog (``vllm-infra models import
    config.json`` prints this block from a Hugging Face config)."""

    parameters: float = Field(gt=0)
    """Total parameters, all experts included (e.g. 8.03e9). Required."""

    layers: Int32 = Field(gt=0)
    """``num_hidden_layers``. Required."""

    attention_heads: Int32 = Field(gt=0)
    """``num_attention_heads``. Required."""

    kv_heads: Int32 = Field(gt=0)
    """``num_key_value_heads``. Required."""

    head_dim: Int32 = Field(gt=0)
    """Dimension of one attention head. Required."""

    hidden_size: Int32 = Field(gt=0)
    """``hidden_size``. Required."""

    intermediate_size: Int32 = Field(gt=0)
    """MLP ``intermediate_size``. Required."""

    vocab_size: Int32 = Field(gt=0)
    """``vocab_size``. Required."""

    context_length: Int32 = Field(gt=0)
    """``max_position_embeddings``. Required."""

    weight_bytes: float = Field(default=2.0, gt=0)
    """Bytes per parameter of the checkpoint. Default: 2 (bfloat16)."""

    active_parameters: float | None = Field(default=None, gt=0)
    """Parameters used per token (mixture of experts). Default: none (dense)."""

    kv_latent_dim: Int32 | None = Field(default=None, gt=0)
    """Cached elements per token and layer for multi-head latent attention. Default: none."""

    tied_embeddings: bool = False
    """``tie_word_embeddings``: one matrix serves as embedding and lm_head. Default: false."""

    checkpoint_bytes: float | None = Field(default=None, gt=0)
    """The checkpoint's ``total_size`` (``model.safetensors.index.json``): its weights as stored.
    Default: none (parameters x bytes per parameter)."""

    quantization: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]+$", max_length=40)] | None = None
    """The checkpoint's ``quantization_config.quant_method`` (``awq``, ``fp8``, ``mxfp4``...),
    which vLLM applies without ``--quantization``. Default: none (not quantized)."""

    quantized_weight_bytes: float | None = Field(default=None, gt=0, le=4)
    """Bytes per quantized weight, scales included (4-bit AWQ, groups of 128: 0.52). Default: none
    (required to size a quantized checkpoint without ``checkpoint_bytes``)."""

    quantized_parameters: float | None = Field(default=None, ge=0)
    """Parameters stored quantized. Default: all but embeddings, lm_head and encoder."""

    encoder_parameters: float = Field(default=0.0, ge=0)
    """Parameters of a vision or audio encoder, part of ``parameters``. Default: 0 (text only)."""

    per_layer_embedding_parameters: float = Field(default=0.0, ge=0)
    """Per-layer input embeddings (Gemma 3n), part of ``parameters``. Default: 0."""

    sliding_window: Int32 | None = Field(default=None, gt=0)
    """Tokens a local-attention layer attends to. Default: none (every layer attends to all)."""

    local_layers: Int32 = Field(default=0, ge=0)
    """Layers with sliding-window or chunked local attention. Default: 0."""

    chunked_local_attention: bool = False
    """Local layers use chunked attention (Llama 4). Default: false (sliding window)."""

    kv_shared_layers: Int32 = Field(default=0, ge=0)
    """Layers that reuse another layer's KV cache (Gemma 3n). Default: 0."""

    @model_validator(mode="after")
    def _consistent(self) -> ArchitectureSpec:
        problems = []
        if self.local_layers + self.kv_shared_layers > self.layers:
            problems.append(Problem(("local_layers",), f"local_layers ({self.local_layers}) and kv_shared_layers "
                                    f"({self.kv_shared_layers}) exceed layers ({self.layers})", self.local_layers))
        if self.local_layers and self.sliding_window is None:
            problems.append(Problem(("sliding_window",), "local_layers need the window they attend to",
                                    self.local_layers))
        if self.quantization and self.quantized_weight_bytes is None and self.checkpoint_bytes is None:
            problems.append(Problem(("quantized_weight_bytes",), f"a {self.quantization} checkpoint is sized from "
                                    "quantized_weight_bytes or checkpoint_bytes", None))
        raise_problems("ArchitectureSpec", problems)
        return self

    def facts(self) -> ModelArchitecture:
        """As a catalog entry."""
        return ModelArchitecture(**self.model_dump())


class KvOffloadBackend(StrEnum):
    """Who keeps the offloaded KV blocks (``--kv-offloading-backend``)."""

    NATIVE = "native"
    LMCACHE = "lmcache"


class KvOffloadSpec(SpecModel):
    """KV-cache blocks kept in host memory beside the GPU's, reused across requests."""

    size_gib: float = Field(gt=0, le=65536)
    """GiB of host memory for the tier, for the whole pod. Required."""

    backend: KvOffloadBackend = KvOffloadBackend.NATIVE
    """vLLM's own offloading connector, or LMCache's CPU tier. Default: ``native``."""


class ModelSpec(SpecModel):
    """The Hugging Face model and the engine settings vLLM loads it with."""

    id: Annotated[str, StringConstraints(pattern=REPOSITORY_ID_PATTERN, max_length=200)]
    """Hugging Face repository id, e.g. ``meta-llama/Llama-3.1-8B-Instruct``. Required."""

    revision: str
    """Full 40-character commit hash of the model repository, so weights never change silently.
    Required (branch names and tags are rejected)."""

    served_name: Annotated[str, StringConstraints(pattern=r"^[\w.:/-]+$", max_length=200)] | None = None
    """Name clients pass as ``model`` in API calls (``--served-model-name``). Default: ``id``."""

    dtype: Dtype = Dtype.AUTO
    """Weight/activation precision. Default: ``auto`` (the checkpoint's dtype, bfloat16 for
    current models)."""

    quantization: Quantization | None = None
    """``--quantization``: ``fp8`` quantizes bf16 weights as they load; for a quantized checkpoint
    vLLM reads the format from its config.json, and this may only repeat it. Default: none (the
    checkpoint's own format, or full precision)."""

    kv_cache_dtype: KvCacheDtype = KvCacheDtype.AUTO
    """KV-cache precision; ``fp8`` halves KV memory. Default: ``auto`` (same as ``dtype``)."""

    max_model_len: Int32 | None = Field(default=None, gt=0)
    """Longest context (prompt + output tokens) per request. Default: the model's own maximum."""

    max_num_seqs: Int32 = Field(default=256, gt=0)
    """Most sequences the engine schedules at once (``--max-num-seqs``). Default: 256."""

    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=GPU_MEMORY_UTILIZATION_MAX)
    """Fraction of each GPU's usable memory vLLM may use for weights, activations and KV cache (and
    CUDA graphs from vLLM 0.21), at most 1: the rest must hold the CUDA context and, before 0.21,
    the CUDA graphs, which the capacity check verifies for this model on this GPU. Default: 0.9."""

    trust_remote_code: bool = False
    """Run Python shipped in the model repository (``--trust-remote-code``); the code is pinned
    to ``revision``. Needs ``trust_remote_code_reason``. Default: false."""

    trust_remote_code_reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                               max_length=500)] | None = None
    """Why this repository's code is trusted; rendered as the waiver of VI-SEC-013 on the workload,
    where reviewers see it. Default: none (required with ``trust_remote_code``)."""

    kv_offload: KvOffloadSpec | None = None
    """A host-memory tier for the KV cache (``--kv-offloading-size``, vLLM 0.11.1+), counted in the
    pod's memory. Default: none."""

    architecture: str | ArchitectureSpec | None = None
    """Architecture facts for memory sizing: a catalog model id (for fine-tunes of a known base) or
    an inline block. Default: the catalog entry for ``id`` (sizing is skipped for unknown models)."""

    extra_args: dict[FlagName, str | int | float | bool] = Field(default_factory=dict)
    """Further engine flags without the leading ``--`` (``enable-prefix-caching: true``); ``true``
    renders ``--flag``, ``false`` renders ``--no-flag``. Flags owned by typed fields are rejected.
    Default: none."""

    @property
    def name_served(self) -> str:
        """The model name clients use."""
        return self.served_name or self.id

    @field_validator("revision")
    @classmethod
    def _pinned_revision(cls, value: str) -> str:
        if not is_commit_hash(value):
            raise ValueError("must be a full 40-character commit hash of the model repository (branch names "
                             "and tags move); copy it from the model's 'Files and versions' history")
        return value

    @field_validator("extra_args")
    @classmethod
    def _no_reserved_flags(cls, value: dict[str, object]) -> dict[str, object]:
        clashes = [f"'{flag}' (set {RESERVED_ENGINE_FLAGS[flag]} instead)" for flag in sorted(value)
                   if flag in RESERVED_ENGINE_FLAGS]
        if clashes:
            raise ValueError("flags owned by typed fields: " + ", ".join(clashes))
        return value

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        problems = []
        if self.trust_remote_code and self.trust_remote_code_reason is None:
            problems.append(Problem(("trust_remote_code_reason",), "trust_remote_code runs the repository's Python in "
                                    "the server: say why it is trusted (reviewers see it as the VI-SEC-013 waiver)",
                                    None))
        if self.trust_remote_code_reason is not None and not self.trust_remote_code:
            problems.append(Problem(("trust_remote_code_reason",), "only used with trust_remote_code: true",
                                    self.trust_remote_code_reason))
        raise_problems("ModelSpec", problems)
        return self
