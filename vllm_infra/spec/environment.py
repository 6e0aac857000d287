"""The environment vllm-infra gives the server itself, in one place: the renderer writes it, and
the spec refuses ``env`` and ``secret_env`` entries that would override it. Caches go to writable
mounts (the root filesystem is read-only), the Hugging Face token to a file."""

from __future__ import annotations

from collections.abc import Callable

from vllm_infra.catalog.huggingface import HUB_OFFLINE_ENV
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import NODE_RANK_ENV

TMP_PATH = "/tmp"
CACHE_PATH = "/model-cache"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
API_KEY_ENV = "VLLM_API_KEY"
"""Filled from ``security.api_key_secret``."""
HF_TOKEN_ENV = "HF_TOKEN"
"""Never set: the token is mounted as a file (``HF_TOKEN_PATH``) so it stays out of the environment."""


def _offline(service: ResolvedService) -> bool:
    return service.spec.storage.model_cache.offline


_LITERAL: dict[str, Callable[[ResolvedService], str | None]] = {
    "HOME": lambda _service: f"{TMP_PATH}/home",
    "XDG_CACHE_HOME": lambda _service: f"{TMP_PATH}/.cache",
    "XDG_CONFIG_HOME": lambda _service: f"{TMP_PATH}/.config",
    "HF_HOME": lambda _service: f"{CACHE_PATH}/huggingface",
    "VLLM_CACHE_ROOT": lambda service: f"{TMP_PATH}/vllm" if _offline(service) else f"{CACHE_PATH}/vllm",
    "TRITON_CACHE_DIR": lambda _service: f"{TMP_PATH}/triton",
    "TORCHINDUCTOR_CACHE_DIR": lambda _service: f"{TMP_PATH}/torchinductor",
    "NUMBA_CACHE_DIR": lambda _service: f"{TMP_PATH}/numba",
    "VLLM_NO_USAGE_STATS": lambda _service: "1",
    HUB_OFFLINE_ENV: lambda service: None if service.downloads_at_start else "1",
    "HF_TOKEN_PATH": lambda service: f"{HF_TOKEN_DIR}/token" if service.spec.storage.hf_token_secret else None,
}
"""Literal variables, by name: how each one's value follows from the service (None: not set)."""

MANAGED_ENV = frozenset({*_LITERAL, API_KEY_ENV, HF_TOKEN_ENV, NODE_RANK_ENV})
"""Every variable vllm-infra sets or reserves."""


def managed_env(service: ResolvedService) -> dict[str, str]:
    """The literal variables the server gets for this service."""
    return {name: value for name, make in _LITERAL.items() if (value := make(service)) is not None}
