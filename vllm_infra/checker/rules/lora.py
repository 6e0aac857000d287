"""LoRA adapters a vLLM server can load: enabled, slots the release accepts, each adapter once and
under a name of its own, and runtime loading only where a reviewer accepted it."""

from __future__ import annotations

from collections.abc import Iterator

from vllm_infra.catalog.vllm import RUNTIME_LORA_ENV
from vllm_infra.catalog.vllm_releases import accepted_lora_ranks, release_catalog
from vllm_infra.checker.reading.environment import env_entries, env_values
from vllm_infra.checker.reading.lora import lora_flags
from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.checker.reading.server import args_path, engine_args, image_version, vllm_pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import WORKLOAD_KINDS
from vllm_infra.vocabulary.reporting import LORA_RULE, Severity


@resource_rule(
    LORA_RULE, Severity.CRITICAL, "LoRA adapters load: enabled, accepted slots, each once under its own name",
    "Pass --enable-lora with --lora-modules, a --max-lora-rank the release accepts, --max-cpu-loras >= --max-loras, "
    "each adapter name once and never the served model's; allow runtime loading only with a waiver saying why.",
    kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("vLLM loads --lora-modules at start and stops when LoRA is off, a name repeats or the slots are "
               "refused; an adapter named like the base model is never reached; runtime loading lets any API "
               "client load an adapter from a repository or path of its choice."),
    example="args: [--lora-modules, sql=/adapters/sql]   # no --enable-lora")
def adapters_load(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, server in vllm_pod_templates(obj):
        flags, path = lora_flags(server.spec), args_path(server)
        runtime = env_values(server.spec).get(RUNTIME_LORA_ENV, "").lower() in ("1", "true")
        if runtime:
            yield Violation((*server.path, "env", env_entries(server.spec)[RUNTIME_LORA_ENV][0]),
                            f"{RUNTIME_LORA_ENV} lets any API client load an adapter from a repository or path of "
                            "its choice", severity=Severity.MEDIUM, subject=RUNTIME_LORA_ENV)
        if flags is None:
            continue
        if flags.adapters and not flags.enabled:
            yield Violation(path, "vLLM refuses to start: --lora-modules are loaded at start and LoRA is not enabled "
                                  "(--enable-lora)")
        version = image_version(server.spec, template.labels) or release_catalog().newest.version
        accepted = accepted_lora_ranks(version)
        if flags.max_rank is not None and flags.max_rank not in accepted:
            yield Violation(path, f"vLLM refuses to start: --max-lora-rank {flags.max_rank} is not one of "
                                  f"{', '.join(map(str, accepted))} (vLLM {version})")
        if flags.max_cpu_loras is not None and flags.max_cpu_loras < (flags.max_loras or 1):
            yield Violation(path, f"vLLM refuses to start: --max-cpu-loras {flags.max_cpu_loras} is below --max-loras "
                                  f"{flags.max_loras or 1}")
        seen: set[str] = set()
        for name in flags.adapters:
            if name in seen:
                yield Violation(path, f"vLLM refuses to start: adapter {name} is loaded twice")
            seen.add(name)
        args = engine_args(server.spec)
        served = args.flag("served-model-name")
        base_names = set(str(served).split()) if isinstance(served, str) else {str(args.model)}
        for name in sorted(set(flags.adapters) & base_names):
            yield Violation(path, f"adapter {name} is named like the base model: requests naming it reach the base "
                                  "model, never the adapter", severity=Severity.HIGH)
