"""Host memory of a vLLM pod beyond its memory-backed volumes."""

from __future__ import annotations

from vllm_infra.vocabulary.units import GIB_BYTES

HOST_MEMORY_HEADROOM_BYTES = 8 * GIB_BYTES
"""Host memory the vLLM processes need beyond memory-backed volumes and the pod's share of the
weights (tokenizer, API server, staging weights while loading); VI-RES-002 requires it."""
