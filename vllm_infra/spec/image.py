"""Which vLLM container image runs, and which vLLM release it contains."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.catalog.vllm import VllmVersion
from vllm_infra.catalog.vllm_releases import unknown_release
from vllm_infra.spec.base import DnsLabel, Problem, SpecModel, raise_problems
from vllm_infra.vocabulary.kubernetes import FLOATING_TAG


class PullPolicy(StrEnum):
    """Kubernetes ``imagePullPolicy``."""

    IF_NOT_PRESENT = "IfNotPresent"
    ALWAYS = "Always"
    NEVER = "Never"


class ImageSpec(SpecModel):
    """The container image; pin it by digest in production."""

    repository: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")] = "vllm/vllm-openai"
    """Image repository. Default: ``vllm/vllm-openai``."""

    tag: Annotated[str, StringConstraints(pattern=r"^[\w][\w.-]{0,127}$")] | None = None
    """Image tag, e.g. ``v0.11.0``; ``latest`` is rejected. Default: none (then ``digest`` is
    required)."""

    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    """Content digest ``sha256:...``; when set it is what the node pulls. Default: none."""

    vllm_version: Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+")] | None = None
    """vLLM release inside the image, used to pick flags and metric names. Default: read from
    ``tag`` (required when the tag does not name a release)."""

    unpinned_reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                      max_length=500)] | None = None
    """Why the image has no digest where policy wants one (e.g. no trusted record of the
    release's digest); rendered as the waiver of VI-IMG-001, where reviewers see it. Default: none."""

    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    """When the kubelet pulls the image. Default: ``IfNotPresent``."""

    pull_secrets: list[DnsLabel] = Field(default_factory=list)
    """Names of ``kubernetes.io/dockerconfigjson`` Secrets for private registries. Default: none."""

    @property
    def reference(self) -> str:
        """``repository:tag@digest`` as the kubelet pulls it."""
        ref = self.repository
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref

    @property
    def version(self) -> VllmVersion:
        """The vLLM release in the image (validated to be known)."""
        version = VllmVersion.parse(self.vllm_version or self.tag or "")
        assert version is not None, "checked by ImageSpec validation"
        return version

    @model_validator(mode="after")
    def _check(self) -> ImageSpec:
        problems = []
        if self.tag is None and self.digest is None:
            problems.append(Problem(("tag",), "set 'tag' or 'digest' so the image is pinned", None))
        if self.tag is not None and FLOATING_TAG.match(self.tag):
            problems.append(Problem(("tag",), f"'{self.tag}' floats between releases; pin a release tag "
                                    "such as 'v0.11.0' or a digest", self.tag))
        version = VllmVersion.parse(self.vllm_version or self.tag or "")
        if version is None:
            problems.append(Problem(("vllm_version",), "the tag does not name a vLLM release; set "
                                    "'vllm_version' (e.g. '0.11.0')", self.tag))
        else:
            unknown = unknown_release(version)
            if unknown:
                problems.append(Problem(("vllm_version" if self.vllm_version else "tag",), unknown,
                                        self.vllm_version or self.tag))
        if self.unpinned_reason is not None and self.digest is not None:
            problems.append(Problem(("unpinned_reason",), "the image is pinned by digest; remove unpinned_reason",
                                    self.unpinned_reason))
        raise_problems("ImageSpec", problems)
        return self
