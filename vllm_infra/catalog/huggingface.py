"""Hugging Face Hub facts: how a pinned model revision is written, and how the client is kept offline."""

from __future__ import annotations

import re

COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")
"""A full commit id of a model repository: the only revision that never moves (branch names and
tags do)."""

REPOSITORY_ID_PATTERN = r"^[A-Za-z0-9][\w.-]*/[\w.-]+$"
"""A Hub repository id: ``org/name``."""
_REPOSITORY_ID = re.compile(REPOSITORY_ID_PATTERN)


def is_repository_id(name: str) -> bool:
    """Whether ``name`` reads as a Hub repository id."""
    return _REPOSITORY_ID.match(name) is not None


HUB_OFFLINE_ENV = "HF_HUB_OFFLINE"
"""``1``: the Hugging Face client never asks the Hub (weights come from the cache, an image or S3)."""


def is_commit_hash(revision: object) -> bool:
    """Whether ``revision`` pins a model repository to one commit."""
    return isinstance(revision, str) and COMMIT_HASH.match(revision) is not None
