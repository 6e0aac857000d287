"""Checks that span a service's sections, run once its fields are individually valid. Each limit
comes from ``vocabulary.limits`` or the capacity model, the same numbers the rules judge
rendered and hand-written manifests by."""

from __future__ import annotations

from vllm_infra.capacity.fit import explain, fit_options, unsupported_formats
from vllm_infra.capacity.memory import MemoryEstimate, sizing_gap
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.gpus import DEVICE_SELECTION_ENV
from vllm_infra.catalog.quantization import effective_quantization, refused_quantization
from vllm_infra.catalog.vllm import NIXL_EITHER_TP_SINCE, NIXL_SINCE, RUNAI_STREAMER_FORMAT, VllmVersion
from vllm_infra.catalog.vllm_releases import (
    FlagKind,
    accepted_lora_ranks,
    accepts,
    catalog_unknown_flag,
    release_catalog,
)
from vllm_infra.spec.availability import RolloutStrategy
from vllm_infra.spec.base import Problem
from vllm_infra.spec.disaggregation import PdRole, PdWorkload
from vllm_infra.spec.environment import MANAGED_ENV
from vllm_infra.spec.loading import LoadingStrategy
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.storage import AccessMode, CacheType
from vllm_infra.vocabulary.credentials import is_secret_env_name, is_secret_flag, looks_like_credential
from vllm_infra.vocabulary.limits import MAX_SCALE_UP_PERIOD_SECONDS, disruptions_allowed
from vllm_infra.vocabulary.units import format_bytes, format_duration, parse_quantity


def service_problems(service: ResolvedService) -> list[Problem]:
    """Every cross-section problem; capacity is only judged once the rest is consistent."""
    problems = [*_parallelism(service), *_accelerator(service), *_availability(service), *_storage(service),
                *_env(service), *_lifecycle(service), *_engine_flags(service), *_host_memory(service),
                *_lora(service), *_kv_offload(service), *_loading(service)]
    return problems or _capacity(service)


def _lora(service: ResolvedService) -> list[Problem]:
    """Adapters vLLM can load: slots of a rank the release accepts and that holds every adapter,
    names that are not the base model's."""
    lora, problems = service.spec.lora, []
    if lora is None:
        return []
    accepted = accepted_lora_ranks(service.vllm_version)
    rank = service.lora_rank
    if rank not in accepted:
        problems.append(Problem(("lora", "max_lora_rank"), f"vLLM {service.vllm_version} accepts --max-lora-rank "
                                f"{', '.join(map(str, accepted))}", rank))
    for index, adapter in enumerate(lora.adapters):
        if adapter.rank > rank:
            problems.append(Problem(("lora", "adapters", index, "rank"), f"adapter {adapter.name} has rank "
                                    f"{adapter.rank}, above the slots' --max-lora-rank {rank}: vLLM refuses to load "
                                    "it", adapter.rank))
        if adapter.name == service.spec.model.name_served:
            problems.append(Problem(("lora", "adapters", index, "name"), f"adapter {adapter.name} is named like the "
                                    "base model: requests naming it reach the base model, never the adapter",
                                    adapter.name))
    return problems


def _kv_offload(service: ResolvedService) -> list[Problem]:
    offload = service.spec.model.kv_offload
    if offload is None or accepts(service.vllm_version, "--kv-offloading-size"):
        return []
    return [Problem(("model", "kv_offload"), catalog_unknown_flag("--kv-offloading-size", service.vllm_version),
                    offload.size_gib)]


def _loading(service: ResolvedService) -> list[Problem]:
    """What each loading strategy needs of the cache and the engine flags."""
    strategy, cache, problems = service.strategy, service.spec.storage.model_cache, []
    if strategy == LoadingStrategy.PREFETCH:
        if cache.shared_access_mode != AccessMode.READ_WRITE_MANY:
            problems.append(Problem(("storage", "model_cache"), "the prefetch Job writes the model into the cache that "
                                    "every replica reads: use a ReadWriteMany claim (type pvc or existingClaim)",
                                    cache.type.value))
        if cache.offline:
            problems.append(Problem(("storage", "model_cache", "offline"), "an offline cache is populated elsewhere; "
                                    "with a prefetch Job leave offline unset", cache.offline))
    if strategy in (LoadingStrategy.IMAGE, LoadingStrategy.STREAM) and service.spec.model.trust_remote_code:
        problems.append(Problem(("model", "trust_remote_code"), f"remote code is pinned by --revision, which only a "
                                f"model from the Hub has; with strategy {strategy} nothing pins the code vLLM would "
                                "run (use strategy download or prefetch)", True))
    if strategy == LoadingStrategy.STREAM and "load-format" in service.spec.model.extra_args:
        problems.append(Problem(("model", "extra_args", "load-format"), "strategy stream sets --load-format "
                                f"{RUNAI_STREAMER_FORMAT}", service.spec.model.extra_args["load-format"]))
    return problems


ROLE_SUFFIX_LENGTH = len("-prefill")
MAX_SERVICE_NAME = 40
"""Longest service name: object names derived from it (``-model-cache``, ``-epp``) stay below 63."""


def disaggregation_problems(service: ResolvedService) -> list[Problem]:
    """What a disaggregated service may not combine; its roles are checked as services of their own."""
    spec, problems = service.spec, []
    pd = spec.disaggregation
    assert pd is not None
    if service.vllm_version < NIXL_SINCE:
        problems.append(Problem(("image",), f"disaggregation needs vLLM {NIXL_SINCE} or later (NixlConnector); the "
                                f"image has {service.vllm_version}", str(service.vllm_version)))
    if len(spec.name) + ROLE_SUFFIX_LENGTH > MAX_SERVICE_NAME:
        problems.append(Problem(("name",), f"at most {MAX_SERVICE_NAME - ROLE_SUFFIX_LENGTH} characters with "
                                f"disaggregation: its roles are named {spec.name}-prefill and {spec.name}-decode",
                                spec.name))
    if spec.autoscaling is not None:
        problems.append(Problem(("autoscaling",), "each role scales on its own: set disaggregation.prefill.autoscaling "
                                "and disaggregation.decode.autoscaling instead", None))
    if spec.routing.inference_pool or spec.routing.endpoint_picker:
        problems.append(Problem(("routing", "inference_pool"), "disaggregation renders its own InferencePool and "
                                "endpoint picker: leave routing.inference_pool and routing.endpoint_picker unset",
                                spec.routing.inference_pool))
    if spec.patches:
        problems.append(Problem(("patches",), "patches do not apply to a disaggregated service's objects; set what "
                                "the roles need in disaggregation.prefill/decode", None))
    for where, flags in ((("model", "extra_args"), spec.model.extra_args),
                         (("disaggregation", "prefill", "extra_args"), pd.prefill.extra_args),
                         (("disaggregation", "decode", "extra_args"), pd.decode.extra_args)):
        if "kv-transfer-config" in flags:
            problems.append(Problem((*where, "kv-transfer-config"), "disaggregation sets --kv-transfer-config for "
                                    "both roles", flags["kv-transfer-config"]))
    if pd.workload == PdWorkload.DISAGGREGATED_SET:
        problems += _disaggregated_set_problems(service)
    elif pd.slices > 1:
        problems.append(Problem(("disaggregation", "slices"), "slices copy a DisaggregatedSet's topology: set "
                                "workload: disaggregated-set, or raise the roles' replicas", pd.slices))
    prefill = (pd.prefill.parallelism or spec.parallelism).tensor
    decode = (pd.decode.parallelism or spec.parallelism).tensor
    either_way = service.vllm_version >= NIXL_EITHER_TP_SINCE
    bridged = max(prefill, decode) % min(prefill, decode) == 0 if either_way else decode % prefill == 0
    if not bridged:
        needs = "one must divide the other" if either_way else (
            f"the decode TP must be a multiple of the prefill TP in vLLM {service.vllm_version} (from "
            f"{NIXL_EITHER_TP_SINCE} either may be larger)")
        problems.append(Problem(("disaggregation", "decode", "parallelism", "tensor"), f"NIXL cannot move the KV "
                                f"cache from prefill TP {prefill} to decode TP {decode}: {needs}", decode))
    return problems


def _disaggregated_set_problems(service: ResolvedService) -> list[Problem]:
    """What a DisaggregatedSet's roles cannot do: scale on their own (the set's roles take fixed
    replicas unless a DisaggregatedSetRoleScaler drives them) or roll out by recreation (its webhook
    admits RollingUpdate only)."""
    spec = service.spec
    assert spec.disaggregation is not None
    problems = [Problem(("disaggregation", role.value, "autoscaling"), "a DisaggregatedSet role takes fixed "
                        "replicas here (its DisaggregatedSetRoleScaler is not rendered): set replicas, or use "
                        "workload: deployments", None)
                for role in PdRole if getattr(spec.disaggregation, role.value).autoscaling is not None]
    if spec.availability.rollout.strategy == RolloutStrategy.RECREATE:
        problems.append(Problem(("availability", "rollout", "strategy"), "a DisaggregatedSet rolls its roles out "
                                "with RollingUpdate only (its webhook refuses other types)",
                                spec.availability.rollout.strategy.value))
    return problems


def _parallelism(service: ResolvedService) -> list[Problem]:
    par, acc = service.spec.parallelism, service.spec.accelerator
    if par.world_size % par.nodes:
        return [Problem(("parallelism", "nodes"),
                        f"parallelism.tensor ({par.tensor}) x parallelism.pipeline ({par.pipeline}) = "
                        f"{par.world_size} GPUs cannot be split evenly over parallelism.nodes ({par.nodes})",
                        par.nodes)]
    per_pod = par.world_size // par.nodes
    if acc.count is not None and acc.count != per_pod:
        return [Problem(("accelerator", "count"),
                        f"accelerator.count ({acc.count}) must equal parallelism.tensor ({par.tensor}) x "
                        f"parallelism.pipeline ({par.pipeline}) / parallelism.nodes ({par.nodes}) = "
                        f"{per_pod} GPUs per pod", acc.count)]
    if per_pod > service.gpus_per_node:
        nodes = -(-par.world_size // service.gpus_per_node)
        return [Problem(("parallelism", "nodes"),
                        f"one pod would need {per_pod} GPUs but a {acc.type} node has {service.gpus_per_node}: "
                        f"set parallelism.nodes to {nodes} or more", par.nodes)]
    return []


def _accelerator(service: ResolvedService) -> list[Problem]:
    acc, gpu, model, problems = service.spec.accelerator, service.gpu, service.spec.model, []
    if acc.platform not in gpu.node_labels:
        offered = ", ".join(gpu.platforms()) or "none"
        problems.append(Problem(("accelerator", "platform"), f"{acc.type} is not offered on platform {acc.platform} "
                                f"(platforms with {acc.type}: {offered})", acc.platform.value))
    arch = service.architecture
    settings = service.serving_settings
    formats = unsupported_formats(gpu, dtype=model.dtype.value,
                                  quantization=settings.quantization if settings else
                                  model.quantization.value if model.quantization else None,
                                  kv_cache_dtype=model.kv_cache_dtype.value,
                                  moe=arch is not None and arch.active_parameters is not None)
    problems += [Problem(("model", field), reason, getattr(model, field).value if getattr(model, field) else None)
                 for field, reason in formats]
    return problems


def _availability(service: ResolvedService) -> list[Problem]:
    spec, problems = service.spec, []
    avail = spec.availability
    if spec.autoscaling and "replicas" in avail.model_fields_set:
        problems.append(Problem(("availability", "replicas"),
                                f"the autoscaler owns the replica count (autoscaling.min_replicas is "
                                f"{spec.autoscaling.min_replicas}); remove availability.replicas", avail.replicas))
    budget = avail.disruption_budget
    if service.disruption_budget_enabled and budget.min_available is not None and disruptions_allowed(
            min_available=budget.min_available, max_unavailable=None, replicas=max(1, service.min_scale)) < 1:
        problems.append(Problem(("availability", "disruption_budget", "min_available"),
                                f"min_available ({budget.min_available}) blocks every drain while a single replica "
                                "runs (the service scales down to 0)" if service.min_scale == 0 else
                                f"min_available ({budget.min_available}) must be below the minimum replica count "
                                f"({service.min_scale}), or no node running this model can be drained",
                                budget.min_available))
    return problems + _rollout(service) + _scaling_pace(service)


def _rollout(service: ResolvedService) -> list[Problem]:
    rollout = service.spec.availability.rollout
    if rollout.strategy == RolloutStrategy.RECREATE and service.spec.parallelism.nodes > 1:
        return [Problem(("availability", "rollout", "strategy"), "multi-node replicas (LeaderWorkerSet) only "
                        "roll: use RollingUpdate (the default replaces one group at a time)", rollout.strategy.value)]
    if rollout.strategy != RolloutStrategy.ROLLING_UPDATE:
        return []
    replicas = max(1, service.min_scale)
    surge, unavailable = service.surge_pods(replicas), service.unavailable_pods(replicas)
    if surge == 0 and unavailable == 0:
        return [Problem(("availability", "rollout"),
                        f"max_surge ({service.max_surge}) and max_unavailable ({service.max_unavailable}) resolve "
                        f"to 0 replicas at {replicas} replica(s); the rollout could never make progress",
                        service.max_unavailable)]
    needed = surge * service.gpus_per_replica
    if needed > service.spare_gpus:
        return [Problem(("availability", "rollout", "max_surge"),
                        f"max_surge {service.max_surge} needs {needed} spare {service.spec.accelerator.type} GPUs "
                        f"during a rollout, but the environment has {service.spare_gpus} spare (fleet spare_gpus, or "
                        "what its cluster leaves free); the surge would stay Pending: use max_surge 0",
                        service.max_surge)]
    return []


def _scaling_pace(service: ResolvedService) -> list[Problem]:
    scaling = service.spec.autoscaling
    if scaling is None or scaling.scale_up_period is None:
        return []
    floor = min(MAX_SCALE_UP_PERIOD_SECONDS, service.startup_probe_budget)
    if scaling.scale_up_period < floor:
        return [Problem(("autoscaling", "scale_up_period"),
                        f"scale_up_period {format_duration(scaling.scale_up_period)} is shorter than a pod takes to "
                        f"start ({format_duration(floor)}): the queue a starting pod will absorb would add more pods",
                        scaling.scale_up_period)]
    return []


def _storage(service: ResolvedService) -> list[Problem]:
    cache = service.spec.storage.model_cache
    mode = cache.shared_access_mode
    if mode not in (AccessMode.READ_WRITE_ONCE, AccessMode.READ_WRITE_ONCE_POD):
        return []
    surges = service.spec.availability.rollout.strategy == RolloutStrategy.ROLLING_UPDATE and \
        service.surge_pods(max(1, service.max_scale)) > 0
    pods = service.max_scale * service.spec.parallelism.nodes
    if pods > 1 or surges:
        field = "access_mode" if cache.type == CacheType.PVC else "claim_access_mode"
        why = f"up to {pods} pods mount it" if pods > 1 else "a surge pod mounts it while the old one runs"
        return [Problem(("storage", "model_cache", field), f"a {mode} volume attaches to one node, but {why}; use "
                        "ReadWriteMany, ReadOnlyMany or an emptyDir", mode.value)]
    return []


def _env(service: ResolvedService) -> list[Problem]:
    spec, problems = service.spec, []
    for name, value in sorted(spec.env.items()):
        if is_secret_env_name(name) or is_secret_flag(name.lower().replace("_", "-")) or looks_like_credential(value):
            problems.append(Problem(("env", name), f"{name} looks like a secret; literal secrets are never rendered: "
                                    "use secret_env (or storage.hf_token_secret, security.api_key_secret)",
                                    "<redacted>"))
        elif name in DEVICE_SELECTION_ENV:
            problems.append(Problem(("env", name), f"{name} bypasses the GPU device plugin; GPUs come from "
                                    "accelerator.count", value))
        elif name in MANAGED_ENV:
            problems.append(Problem(("env", name), f"{name} is set by vllm-infra", value))
    for name in sorted(spec.secret_env):
        if name in MANAGED_ENV or name in DEVICE_SELECTION_ENV or name in spec.env:
            problems.append(Problem(("secret_env", name), f"{name} is already set elsewhere", name))
    return problems


def _lifecycle(service: ResolvedService) -> list[Problem]:
    configured = service.spec.lifecycle.startup_timeout
    if configured is not None and service.architecture is not None and configured < service.estimated_startup:
        return [Problem(("lifecycle", "startup_timeout"),
                        f"startup_timeout {format_duration(configured)} is shorter than the "
                        f"{format_duration(service.estimated_startup)} vllm-infra estimates for "
                        f"{'downloading and ' if service.downloads_at_start else ''}"
                        f"{'streaming' if service.strategy == LoadingStrategy.STREAM else 'loading'} "
                        f"{service.spec.model.id} on {service.gpus_per_replica} GPU(s); the startup probe "
                        "would kill the pod mid-load", configured)]
    return []


def _host_memory(service: ResolvedService) -> list[Problem]:
    """An explicit ``resources.memory`` must hold what the engine flags put in host memory."""
    memory, needs = service.spec.resources.memory, service.host_needs
    if memory is None or parse_quantity(memory) >= needs.total:
        return []
    return [Problem(("resources", "memory"), f"{memory} cannot hold {needs.describe()} = "
                    f"{format_bytes(int(needs.total))} (plus /dev/shm, added on top)", memory)]


def _engine_flags(service: ResolvedService) -> list[Problem]:
    """What the image's vLLM release would refuse or ignore: unknown or removed ``extra_args``,
    values of the wrong kind, and a drain timeout set for a release without ``--shutdown-timeout``."""
    catalog, version, model = release_catalog(), service.vllm_version, service.spec.model
    problems = []
    for name, value in sorted(model.extra_args.items()):
        message = _extra_arg_problem(name, value, version)
        if message:
            shown = "<redacted>" if isinstance(value, str) and looks_like_credential(value) else value
            problems.append(Problem(("model", "extra_args", name), message, shown))
    drain = service.spec.lifecycle.drain
    if "request_timeout" in drain.model_fields_set and not accepts(version, "--shutdown-timeout"):
        since = catalog.first_with("--shutdown-timeout")
        problems.append(Problem(("lifecycle", "drain", "request_timeout"),
                                f"vLLM {version} aborts in-flight requests on SIGTERM; letting them finish needs "
                                f"--shutdown-timeout (vLLM {since} or later): set image.tag to v{since} or later, "
                                "or remove request_timeout", drain.request_timeout))
    return problems


def _extra_arg_problem(name: str, value: str | int | float | bool, version: VllmVersion) -> str | None:
    if is_secret_flag(name) or (isinstance(value, str) and looks_like_credential(value)):
        return (f"--{name} would put a credential in the pod spec, where anyone who can read it sees it: use "
                "storage.hf_token_secret, security.api_key_secret or secret_env")
    catalog = release_catalog()
    flag = catalog.flags(version).get(f"--{name}")
    if flag is None:
        return catalog_unknown_flag(f"--{name}", version)
    if isinstance(value, bool):
        if flag.kind != FlagKind.BOOL:
            return f"--{name} takes a {flag.kind} value in vLLM {version}, not true/false"
        if value is False and not flag.negatable:
            return f"--{name} is a plain switch in vLLM {version} (no --no-{name}); leave it out to keep it off"
        return None
    if flag.kind == FlagKind.BOOL:
        return f"--{name} is a switch in vLLM {version}: set it to true or false"
    if flag.refuses(str(value)):
        return f"--{name}={value}: vLLM {version} accepts {', '.join(flag.choices)}"
    return None


def _capacity(service: ResolvedService) -> list[Problem]:
    model = service.spec.model
    if isinstance(model.architecture, str) and model.architecture not in MODEL_CATALOG:
        return [Problem(("model", "architecture"), f"unknown architecture '{model.architecture}' (see `vllm-infra "
                        "models`, or give the facts inline)", model.architecture)]
    arch = service.architecture
    if arch is None:
        return [Problem(("model", "architecture"), f"{model.id} is not in the model catalog, so its memory cannot be "
                        "sized: set model.architecture to the catalog entry it is a fine-tune of, or give its facts "
                        "inline (`vllm-infra models --import config.json` prints them from its Hugging Face config)",
                        None)]
    problems = []
    flag = model.quantization.value if model.quantization else None
    if refused_quantization(flag, arch.quantization):
        problems.append(Problem(("model", "quantization"), f"the checkpoint of {model.id} is {arch.quantization}: vLLM "
                                f"refuses --quantization {flag} for it (leave quantization unset)", flag))
    gap = sizing_gap(arch, effective_quantization(flag, arch.quantization))
    if gap:
        return [*problems, Problem(("model", "quantization"), f"{model.id} cannot be sized: {gap}", flag)]
    tensor = service.spec.parallelism.tensor
    if arch.attention_heads % tensor:
        problems.append(Problem(("parallelism", "tensor"), f"{arch.attention_heads} attention heads of {model.id} "
                                f"cannot be split over tensor parallelism {tensor}", tensor))
    kv_split_ok = arch.kv_heads % tensor == 0 if tensor <= arch.kv_heads else tensor % arch.kv_heads == 0
    if not arch.kv_latent_dim and not kv_split_ok:
        problems.append(Problem(("parallelism", "tensor"), f"{arch.kv_heads} KV heads of {model.id} cannot be split "
                                f"or replicated over tensor parallelism {tensor}", tensor))
    if model.max_model_len and model.max_model_len > arch.context_length:
        problems.append(Problem(("model", "max_model_len"), f"{model.id} supports at most {arch.context_length} "
                                "tokens of context", model.max_model_len))
    memory = service.memory_estimate
    if problems or memory is None or memory.fits:  # tight starts: plan and check report it
        return problems
    return [Problem(("model",), misfit_message(service, memory), model.id)]


def misfit_message(service: ResolvedService, memory: MemoryEstimate) -> str:
    """The numbers behind a model that does not fit, and the single changes that would fix it."""
    spec, par = service.spec, service.spec.parallelism
    where = (f"{spec.model.id} does not fit on {service.gpus_per_replica} x {memory.gpu.type} (TP={par.tensor}, "
             f"PP={par.pipeline}, vLLM {service.vllm_version})")
    options = fit_options(memory, gpus_per_node=service.gpus_per_node, nodes=par.nodes)
    fixes = "; ".join(map(str, options)) if options else "no single change fits: combine them or choose a smaller model"
    return f"{where}: {explain(memory)}. Fits with: {fixes}"
