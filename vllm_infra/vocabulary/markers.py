"""The file synth writes into every stack directory it renders: which stack the tree is, the
policy profile it was gated with and the Kubernetes version it was rendered for. ``check`` reads
the profile and the version from it (so no workflow copies them per stack), and only a directory
holding it is known to be synth's own tree."""

from __future__ import annotations

from dataclasses import dataclass

STACK_MARKER = ".vllm-infra-stack"
"""No ``.yaml`` suffix: kubectl, kustomize, Argo CD and Flux never read it as a manifest."""
STAGING_MARKER = ".vllm-infra-staging"
"""Written into synth's staging directory when it is made, removed before it takes the stack's
place: ``check`` skips a directory named like synth's staging directories only when it holds
this file or a stack marker of the stack in its name (never by name alone)."""


@dataclass(frozen=True)
class StackMarker:
    """What a rendered tree says about itself."""

    stack: str
    policy_profile: str
    kubernetes_version: str | None = None
    """The cluster's Kubernetes version the tree was rendered and gated for (None in markers written
    before it was recorded)."""


def marker_text(marker: StackMarker) -> str:
    """The marker file's content."""
    version = f"kubernetes_version: {marker.kubernetes_version}\n" if marker.kubernetes_version else ""
    return (f"# Written by vllm-infra synth: this directory is the rendered tree of one stack.\n"
            f"stack: {marker.stack}\npolicy_profile: {marker.policy_profile}\n{version}")


def read_marker(text: str) -> StackMarker | None:
    """The marker in a file's content, or None when it is not one."""
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith("#"))
    if "stack" not in fields or "policy_profile" not in fields:
        return None
    version = fields.get("kubernetes_version")
    return StackMarker(fields["stack"].strip(), fields["policy_profile"].strip(), version.strip() if version else None)
