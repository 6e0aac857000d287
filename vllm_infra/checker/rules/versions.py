"""The vLLM release contract: image tags that name published releases, and engine flags that the
image's release accepts, read the way its parser reads them (``catalog.vllm_releases``)."""

from __future__ import annotations

from collections.abc import Iterator

from vllm_infra.catalog.vllm import VllmVersion
from vllm_infra.catalog.vllm_releases import (
    VLLM_IMAGE_REPOSITORIES,
    EngineFlag,
    FlagKind,
    FlagUse,
    catalog_unknown_flag,
    release_catalog,
    unknown_release,
)
from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.checker.reading.server import args_path, engine_args, image_version, vllm_pod_templates
from vllm_infra.checker.reading.templates import containers, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import WORKLOAD_KINDS, image_parts
from vllm_infra.vocabulary.reporting import Severity

_BOOLEAN_WORDS = frozenset({"true", "false", "True", "False", "1", "0", "yes", "no"})


@resource_rule(
    "VI-VER-001", Severity.CRITICAL, "vLLM image tags name published vLLM releases",
    "Use a tag vLLM published (the release catalog, vllm_infra/catalog/data/vllm_releases.json, lists them); "
    "a tag that was never pushed leaves pods in "
    "ImagePullBackOff.", kinds=WORKLOAD_KINDS,
    rationale="A tag vLLM never published leaves every pod in ImagePullBackOff.",
    example="image: vllm/vllm-openai:v0.18.2   # never released")
def published_release(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    catalog = release_catalog()
    for template in pod_templates(obj):
        for ref in containers(template):
            repository, tag, digest = image_parts(str(ref.spec.get("image", "")))
            version = VllmVersion.parse(tag or "")
            if repository not in VLLM_IMAGE_REPOSITORIES or version is None:
                continue
            if catalog.release(version) is None and catalog.covers(version):
                yield Violation((*ref.path, "image"), f"{repository}:{tag}: {unknown_release(version)}"
                                + ("; the digest decides what runs" if digest else ""),
                                severity=Severity.MEDIUM if digest else None)


@resource_rule(
    "VI-VER-002", Severity.CRITICAL, "Engine flags exist in the image's vLLM release",
    "Drop or rename flags the release does not define (vLLM exits at start with 'unrecognized arguments', "
    "CrashLoopBackOff); `vllm-infra upgrade-check` lists them per release.", kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("vLLM exits at start on a flag its release does not define, or on a value outside its "
               "choices: CrashLoopBackOff."),
    example="image: vllm/vllm-openai:v0.33.0\nargs: [--disable-log-requests]   # removed in 0.17.0")
def known_engine_flags(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    catalog = release_catalog()
    for template, serving in vllm_pod_templates(obj):
        args = engine_args(serving.spec)
        version = image_version(serving.spec, template.labels)
        if not args.server_args or version is None or not catalog.covers(version):
            continue
        for message in _flag_problems(args.argv, version):
            yield Violation(args_path(serving), message)


def _flag_problems(argv: tuple[str, ...], version: VllmVersion) -> Iterator[str]:
    """What vLLM's parser would refuse in ``argv``, one message per bad token."""
    catalog = release_catalog()
    position = 0
    while position < len(argv):
        token = argv[position]
        position += 1
        if not token.startswith("-") or token == "-" or "$" in token.split("=", 1)[0]:
            continue
        resolved = catalog.resolve(token, version)
        flag = resolved.flag
        if resolved.use == FlagUse.UNKNOWN or flag is None:
            if token.startswith("--"):
                yield catalog_unknown_flag(token.split("=", 1)[0], version)
            continue
        value = token.split("=", 1)[1] if "=" in token else None
        if flag.kind == FlagKind.BOOL:
            following = argv[position] if position < len(argv) else None
            if value is not None:
                yield f"{token}: {flag.name} is a switch in vLLM {version} and takes no value"
            elif following in _BOOLEAN_WORDS:
                yield (f"{token} {following}: {flag.name} is a switch in vLLM {version}; '{following}' becomes an "
                       "unrecognized argument")
            continue
        if value is None and position < len(argv) and not flag.optional_value:
            value = argv[position]
            position += 1
        if value is not None and "$" not in value:
            yield from _value_problems(flag, value, version)


def _value_problems(flag: EngineFlag, value: str, version: VllmVersion) -> Iterator[str]:
    if flag.refuses(value):
        yield f"{flag.name} {value}: vLLM {version} accepts {', '.join(flag.choices)}"
