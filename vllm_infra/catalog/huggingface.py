"""Hugging Face Hub facts: how a pinned model revision is written."""

from __future__ import annotations

import re

COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")
"""A full commit id of a model repository: the only revision that never moves (branch names and
tags do)."""


def is_commit_hash(revision: object) -> bool:
    """Whether ``revision`` pins a model repository to one commit."""
    return isinstance(revision, str) and COMMIT_HASH.match(revision) is not None
