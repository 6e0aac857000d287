"""Supply chain: pinned images and pinned model weights."""

from __future__ import annotations

from collections.abc import Iterator

from vllm_infra.catalog.huggingface import is_commit_hash
from vllm_infra.checker.reading.environment import env_values
from vllm_infra.checker.reading.objects import Manifest, image_parts
from vllm_infra.checker.reading.server import args_path, engine_args, vllm_pod_templates
from vllm_infra.checker.reading.templates import containers, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import FLOATING_TAG, WORKLOAD_KINDS
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE, Severity


@resource_rule(
    IMAGE_PINNING_RULE, Severity.HIGH, "Images have an explicit non-latest tag; restricted profile needs a digest",
    "Pin images by tag and @sha256 digest (the dev profile accepts a release tag).", kinds=WORKLOAD_KINDS,
    rationale=("A moving tag runs a different image after every pull; without a digest nobody can say "
               "which build served a request."),
    example="image: vllm/vllm-openai:latest")
def pinned_images(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            image = str(ref.spec.get("image", ""))
            _repo, tag, digest = image_parts(image)
            path = (*ref.path, "image")
            if not digest and (tag is None or FLOATING_TAG.match(tag)):  # no waiver makes a moving tag reviewable
                yield Violation(path, f"image {image} floats (no tag, or a moving tag such as 'latest' or 'nightly')",
                                waivable=False, subject=image)
            elif not digest and ctx.policy.requires_digests:
                yield Violation(path, f"image {image} is not pinned by digest", subject=image)


@resource_rule(
    "VI-IMG-002", Severity.MEDIUM, "The model source is pinned",
    "Pass --revision=<commit>, or serve a pre-populated volume with HF_HUB_OFFLINE=1.", kinds=WORKLOAD_KINDS,
    gpu=True,
    rationale=("Without a pinned revision the weights change when the model repository changes, and "
               "replicas started on different days serve different models."),
    example="args: [--model, meta-llama/Llama-3.1-8B-Instruct]   # no --revision=<commit>")
def pinned_model(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if template.role == "worker":
            continue
        args = engine_args(serving.spec)
        local = (args.model or "").startswith("/")
        if local:
            if env_values(serving.spec).get("HF_HUB_OFFLINE") != "1":
                yield Violation((*serving.path, "env"), "a local model path is served without HF_HUB_OFFLINE=1")
        elif not is_commit_hash(args.flag("revision")):
            yield Violation(args_path(serving), f"model {args.model or '(unknown)'} is not pinned to a commit "
                                                "(--revision)")
