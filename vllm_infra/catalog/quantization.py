"""How vLLM resolves a model's quantization and what its quantized weights weigh.

vLLM reads ``quantization_config`` (or ``compression_config``) from the checkpoint's config.json;
``--quantization`` may repeat it or name a faster kernel of the same format (``awq_marlin`` for
``awq``), and any other value makes it refuse to start (``_verify_quantization`` in
vllm/config/model.py). Without a checkpoint format, ``--quantization fp8`` quantizes bf16 weights
as they load. Bytes per quantized weight include the format's scales and zero points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FAMILIES = {"awq_marlin": "awq", "gptq_marlin": "gptq", "gptq_marlin_24": "gptq", "compressed_tensors":
             "compressed-tensors", "fbgemm_fp8": "fp8", "ptpc_fp8": "fp8"}
"""Kernel names of one checkpoint format (``--quantization awq_marlin`` serves an AWQ checkpoint)."""

MXFP4_BYTES = 0.5 + 1 / 32
"""OCP MXFP4: 4-bit values and one 8-bit (E8M0) scale per 32."""
NVFP4_BYTES = 0.5 + 1 / 16
"""NVFP4: 4-bit values and one FP8 scale per 16 (plus one per tensor)."""
FP8_BYTES = 1.0
"""FP8 weights; per-channel or per-block scales add under 0.1%."""

ONLINE_WEIGHT_BYTES = {"fp8": FP8_BYTES, "awq": 0.5625, "gptq": 0.5625, "bitsandbytes": 0.5625, "mxfp4": MXFP4_BYTES}
"""Bytes per weight when only the flag names the format: ``fp8`` quantizes bf16 weights as they
load; for the others the checkpoint's own config is unknown, and 4 bits with group scales of 32
are assumed (the largest of the usual group sizes)."""


def _grouped(bits: float, group_size: Any, zero_points: bool = True) -> float:
    """Integer weights of ``bits`` with an fp16 scale (and a packed zero point) per group."""
    size = int(group_size) if isinstance(group_size, int | float) and group_size > 0 else 0
    per_group = 2 + (bits / 8 if zero_points else 0)
    return bits / 8 + (per_group / size if size else 0.0)


AWQ_4BIT_G128_BYTES = _grouped(4, 128)
"""4-bit AWQ/GPTQ weights with an fp16 scale and a 4-bit zero point per group of 128 (0.52)."""


def quantization_family(method: str) -> str:
    """The checkpoint format a ``--quantization`` value or ``quant_method`` names."""
    lowered = method.lower().replace("compressed_tensors", "compressed-tensors")
    return _FAMILIES.get(lowered, lowered)


@dataclass(frozen=True)
class CheckpointQuantization:
    """What a quantized checkpoint's ``quantization_config`` says."""

    method: str
    """vLLM's name for the format (``awq``, ``gptq``, ``fp8``, ``compressed-tensors``, ``mxfp4``,
    ``bitsandbytes``, ``modelopt``, ``modelopt_fp4``...)."""
    weight_bytes: float | None
    """Bytes per quantized weight, scales included (None: a format whose size is not modelled)."""
    experts_only: bool = False
    """Only the MoE experts are quantized (gpt-oss: attention, router and embeddings stay bf16)."""


def _compressed_tensors(config: Mapping[str, Any]) -> float | None:
    """The first config group's weights (llm-compressor writes one per scheme)."""
    if "nvfp4" in str(config.get("format", "")):
        return NVFP4_BYTES
    for group in (config.get("config_groups") or {}).values():
        weights = group.get("weights") if isinstance(group, Mapping) else None
        if isinstance(weights, Mapping) and isinstance(weights.get("num_bits"), int):
            bits = weights["num_bits"]
            if weights.get("type") == "float":
                return FP8_BYTES if bits == 8 else NVFP4_BYTES
            return _grouped(bits, weights.get("group_size"), zero_points=not weights.get("symmetric", True))
    return None


def checkpoint_quantization(config: Mapping[str, Any]) -> CheckpointQuantization | None:
    """The quantization a Hugging Face config.json declares, read as vLLM reads it (None: none)."""
    section = config.get("quantization_config") or config.get("compression_config")
    if not isinstance(section, Mapping):
        text = config.get("text_config")
        section = text.get("quantization_config") if isinstance(text, Mapping) else None
        if not isinstance(section, Mapping):
            return None
    method = str(section.get("quant_method", "")).lower()
    producer = section.get("producer")
    if isinstance(producer, Mapping) and producer.get("name") == "modelopt":
        algorithm = str((section.get("quantization") or {}).get("quant_algo", ""))
        method = "modelopt" if algorithm == "FP8" else "modelopt_fp4" if algorithm == "NVFP4" else method
    method = quantization_family(method)
    if not method:
        return None
    bits = section.get("bits") or section.get("w_bit") or 4
    sizes: dict[str, float | None] = {
        "awq": _grouped(bits, section.get("group_size", section.get("q_group_size", 128))),
        "gptq": _grouped(bits, section.get("group_size", 128)),
        "auto-round": _grouped(bits, section.get("group_size", 128)),
        "fp8": FP8_BYTES, "modelopt": FP8_BYTES, "experts_int8": FP8_BYTES,
        "mxfp4": MXFP4_BYTES, "modelopt_fp4": NVFP4_BYTES,
        "bitsandbytes": (1.0 if section.get("load_in_8bit") else
                         0.5 + (1 / 64 if section.get("bnb_4bit_use_double_quant") else 4 / 64)),
        "compressed-tensors": _compressed_tensors(section),
    }
    return CheckpointQuantization(method, sizes.get(method), experts_only=method == "mxfp4")


def refused_quantization(flag: str | None, checkpoint: str | None) -> bool:
    """vLLM refuses to start: ``--quantization`` names another format than the checkpoint's."""
    if not flag or not checkpoint:
        return False
    family = quantization_family(checkpoint)
    return quantization_family(flag) != family and not (flag == "marlin" and family in ("awq", "gptq"))


def effective_quantization(flag: str | None, checkpoint: str | None) -> str | None:
    """The format vLLM runs: the checkpoint's own, else the one ``--quantization`` names."""
    return quantization_family(checkpoint) if checkpoint else (quantization_family(flag) if flag else None)


MXFP4_MARLIN_GPUS = frozenset({"T4", "A10G", "L4", "L40S", "A100-40GB", "A100-80GB"})
"""GPUs below compute capability 9.0, where vLLM runs MXFP4 experts with its Marlin kernel."""


def mxfp4_padding(gpu_type: str, vendor: str) -> tuple[int, int]:
    """(hidden, per-GPU intermediate) multiples vLLM pads MXFP4 expert weights to, by the kernel it
    picks on that GPU (``Mxfp4MoEMethod.create_weights`` in mxfp4.py): Marlin 256/128, Hopper's
    Triton kernel -/64, Blackwell's FlashInfer kernel and ROCm 256/256."""
    if vendor == "amd" or gpu_type == "B200":
        return 256, 256
    if gpu_type in MXFP4_MARLIN_GPUS:
        return 256, 128
    return 1, 64
