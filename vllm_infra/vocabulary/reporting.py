"""Words the reports share: severities, policy profiles and output formats.

A leaf module, so the CLI can declare its options with these enums without loading the rule
catalog (which compiles schemas) before a command runs.
"""

from __future__ import annotations

from enum import StrEnum

TRUST_REMOTE_CODE_RULE = "VI-SEC-013"
"""The rule that asks why a model repository's code is trusted; the spec's reason is rendered as
its waiver."""
LORA_RULE = "VI-LORA-001"
"""Adapters vLLM loads at start, and who may load more (a waiver accepts runtime loading)."""
MODEL_PINNING_RULE = "VI-IMG-002"
"""The rule that asks for pinned weights; the spec's ``loading.unpinned_reason`` (an object-store
prefix) is rendered as its waiver."""

IMAGE_PINNING_RULE = "VI-IMG-001"
"""The rule that asks for image digests; the spec's ``image.unpinned_reason`` is rendered as its
waiver."""


class Severity(StrEnum):
    """Rule severity; critical and high fail the default gate."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1}[self.value]


class Profile(StrEnum):
    """Policy profile names; what each one means is its descriptor in ``vocabulary.profiles``."""

    RESTRICTED = "restricted"
    DEV = "dev"
    RDMA = "rdma"


class ReportFormat(StrEnum):
    """Formats of a findings report (``check``, ``validate``)."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    GITHUB = "github"
    """GitHub Actions workflow commands: each finding annotates the pull request's diff."""


class DiffFormat(StrEnum):
    """Formats of ``vllm-infra diff``: terminal text, a Markdown PR comment or job summary, JSON."""

    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


class DataFormat(StrEnum):
    """Formats of a listing (``plan``, ``rules``, ``models``): a table for people or JSON."""

    TEXT = "text"
    JSON = "json"
