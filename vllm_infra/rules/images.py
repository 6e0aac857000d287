"""Supply chain: pinned images and pinned model weights."""

from __future__ import annotations

import re
from collections.abc import Iterator

from vllm_infra.policy import Profile, Severity
from vllm_infra.rules.base import Manifest, RuleContext, Violation, rule
from vllm_infra.rules.k8s import (
    WORKLOAD_KINDS,
    args_path,
    containers,
    engine_args,
    env_values,
    image_parts,
    pod_templates,
    vllm_pod_templates,
)

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@rule("VI-IMG-001", Severity.HIGH, "Images have an explicit non-latest tag; restricted profile needs a digest",
      "Pin images by tag and @sha256 digest (the dev profile accepts a release tag).", kinds=WORKLOAD_KINDS)
def pinned_images(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            image = str(ref.spec.get("image", ""))
            _repo, tag, digest = image_parts(image)
            path = (*ref.path, "image")
            if not digest and (tag is None or tag == "latest"):
                yield Violation(path, f"image {image} floats (no tag, or 'latest')")
            elif not digest and ctx.profile != Profile.DEV:
                yield Violation(path, f"image {image} is not pinned by digest")


@rule("VI-IMG-002", Severity.MEDIUM, "The model source is pinned",
      "Pass --revision=<commit>, or serve a pre-populated volume with HF_HUB_OFFLINE=1.", kinds=WORKLOAD_KINDS,
      gpu=True)
def pinned_model(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if template.role == "worker":
            continue
        args = engine_args(serving.spec)
        local = (args.model or "").startswith("/")
        if local:
            if env_values(serving.spec).get("HF_HUB_OFFLINE") != "1":
                yield Violation((*serving.path, "env"), "a local model path is served without HF_HUB_OFFLINE=1")
        elif not _COMMIT.match(str(args.flag("revision") or "")):
            yield Violation(args_path(serving), f"model {args.model or '(unknown)'} is not pinned to a commit "
                                                "(--revision)")
