"""Supply chain: pinned images and pinned model weights."""

from __future__ import annotations

from collections.abc import Iterator

from vllm_infra.catalog.huggingface import HUB_OFFLINE_ENV, is_commit_hash
from vllm_infra.checker.reading.commands import command_line
from vllm_infra.checker.reading.environment import env_values
from vllm_infra.checker.reading.objects import Manifest, dig
from vllm_infra.checker.reading.ray import installed_packages, runtime_envs
from vllm_infra.checker.reading.server import args_path, engine_args, vllm_pod_templates
from vllm_infra.checker.reading.templates import PodTemplate, containers, image_volumes, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import (
    FLOATING_TAG,
    IMAGE_VOLUMES_ON_BY_DEFAULT,
    WORKLOAD_KINDS,
    image_parts,
    minor_version,
)
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE, MODEL_PINNING_RULE, Severity


@resource_rule(
    IMAGE_PINNING_RULE, Severity.HIGH, "Images have an explicit non-latest tag; restricted profile needs a digest",
    "Pin images by tag and @sha256 digest (the dev profile accepts a release tag).", kinds=WORKLOAD_KINDS,
    rationale=("A moving tag runs a different image after every pull; without a digest nobody can say "
               "which build served a request."),
    example="image: vllm/vllm-openai:latest")
def pinned_images(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for path, image in _pulled_images(template):
            _repo, tag, digest = image_parts(image)
            if not digest and (tag is None or FLOATING_TAG.match(tag)):  # no waiver makes a moving tag reviewable
                yield Violation(path, f"image {image} floats (no tag, or a moving tag such as 'latest' or 'nightly')",
                                waivable=False, subject=image)
            elif not digest and ctx.policy.requires_digests:
                yield Violation(path, f"image {image} is not pinned by digest", subject=image)


def _pulled_images(template: PodTemplate) -> Iterator[tuple[FieldPath, str]]:
    """Every image the kubelet pulls for a pod: its containers' and its image volumes' (a model image's
    tag moves the weights as a container's moves the code)."""
    for ref in containers(template):
        yield (*ref.path, "image"), str(ref.spec.get("image", ""))
    for path, volume in image_volumes(template):
        yield (*path, "image", "reference"), str(dig(volume, "image", "reference", default=""))


@resource_rule(
    "VI-IMG-004", Severity.HIGH, "Image volumes only where the cluster's Kubernetes version serves them",
    "Target a cluster that enables image volumes (Kubernetes 1.35+, or the ImageVolume feature gate turned on, "
    "said in a waiver) and check with --kubernetes-version; elsewhere copy the model image's files into an "
    "emptyDir with an init container.", kinds=WORKLOAD_KINDS,
    rationale=("The ImageVolume feature gate is off by default before Kubernetes 1.35 (alpha in 1.31, beta but "
               "off in 1.33 and 1.34): the API server drops volumes[].image, and the pod, whose volume is left "
               "without a source, is refused."),
    example="volumes: [{name: model, image: {reference: registry.example.com/llama:v1}}]   # on Kubernetes 1.33")
def image_volumes_served(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if minor_version(ctx.kubernetes_version) >= minor_version(IMAGE_VOLUMES_ON_BY_DEFAULT):
        return
    for template in pod_templates(obj):
        for path, volume in image_volumes(template):
            yield Violation((*path, "image"), f"volume '{volume.get('name')}' is an image volume, off by default on "
                                              f"Kubernetes {ctx.kubernetes_version} (on from "
                                              f"{IMAGE_VOLUMES_ON_BY_DEFAULT}): the API server refuses the pod",
                            subject=str(volume.get("name")))


@resource_rule(
    MODEL_PINNING_RULE, Severity.MEDIUM, "The model source is pinned",
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
        if "://" in (args.model or ""):
            yield Violation(args_path(serving), f"model {args.model} is read from object storage, which no revision "
                                                "pins: the weights change when the objects do", subject=args.model)
        elif local:
            if env_values(serving.spec).get(HUB_OFFLINE_ENV) != "1":
                yield Violation((*serving.path, "env"), "a local model path is served without HF_HUB_OFFLINE=1")
        elif not is_commit_hash(args.flag("revision")):
            yield Violation(args_path(serving), f"model {args.model or '(unknown)'} is not pinned to a commit "
                                                "(--revision)")


_INSTALLERS = {"pip": "install", "pip3": "install", "uv": "pip", "apt-get": "install", "apt": "install",
               "apk": "add", "yum": "install", "dnf": "install", "microdnf": "install", "conda": "install",
               "mamba": "install", "npm": "install"}
"""Package managers and the subcommand that installs (``uv pip install`` through ``pip``)."""


def _installs(argv: tuple[str, ...]) -> str | None:
    """The install command a command line runs, as written, or None."""
    words = list(argv)
    for index, word in enumerate(words):
        program = word.rsplit("/", 1)[-1]
        if program.startswith("python") and words[index + 1:index + 3] == ["-m", "pip"] and "install" in words:
            return " ".join(words[index:index + 4])
        if _INSTALLERS.get(program) in words[index + 1:index + 3]:
            return " ".join(words[index:index + 3])
    return None


@resource_rule(
    "VI-IMG-003", Severity.MEDIUM, "Containers start what their image holds: no package installs at start",
    "Build the packages into the image (or an init container's image) and pin them there; installing at start "
    "needs egress, slows every start and runs whatever the index serves that day.", kinds=WORKLOAD_KINDS,
    rationale=("A package installed when the container starts is not in the reviewed image: every restart "
               "fetches it again (through egress a NetworkPolicy should deny), adds minutes to the start-up, and "
               "may get another version than yesterday's."),
    example="command: [bash, -c, \"pip install vllm==0.11.0 && vllm serve ...\"]   # or a Ray runtime_env.pip")
def no_installs_at_start(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            installing = next((found for command in command_line(ref.spec).commands
                               if (found := _installs(command.argv)) is not None), None)
            if installing is not None:
                yield Violation(args_path(ref), f"container '{ref.spec.get('name')}' runs `{installing}` at every "
                                                "start: it needs egress, slows the start-up and is not reproducible")
    for runtime in runtime_envs(obj):
        installs = installed_packages(runtime.env)
        if installs is not None:
            field, packages = installs
            yield Violation(runtime.path, f"Ray installs {packages} for {runtime.owner} (runtime_env.{field}) "
                                          "whenever a worker starts it: it needs egress, slows the start-up and is "
                                          "not reproducible")
