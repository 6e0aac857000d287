"""What a credential looks like, so the spec, the renderer's guards and the rules recognise the
same ones."""

from __future__ import annotations

import re

SECRET_ENV_NAME = re.compile(r"(^HF_TOKEN$|^HUGGING_FACE_HUB_TOKEN$|^VLLM_API_KEY$|_TOKEN$|_SECRET$|_API_KEY$|"
                             r"_PASSWORD$)")
"""Environment variable names whose value is a credential (VI-SEC-010)."""


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable of this name holds a credential."""
    return SECRET_ENV_NAME.search(name) is not None
