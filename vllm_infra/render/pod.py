"""Pod template of the vLLM server: engine arguments, writable cache paths, volumes, probes,
security context and scheduling."""

from __future__ import annotations

import shlex
from enum import StrEnum
from typing import Any

from vllm_infra.catalog.vllm_releases import accepts, native_multi_node
from vllm_infra.render.claims import CLAIM_NAME, pod_claims
from vllm_infra.render.context import RenderContext
from vllm_infra.render.disaggregation import (
    kv_transfer_config,
    pair_labels,
    routing_sidecar,
    side_channel_env,
    side_channel_ports,
)
from vllm_infra.render.labels import ROLE_LABEL, common_labels
from vllm_infra.render.loading import (
    copied_model_bytes,
    copies_model_image,
    loading_args,
    loading_init_containers,
    model_image_mount,
    model_image_volume,
)
from vllm_infra.render.lora import fetch_adapters, lora_args, lora_env
from vllm_infra.spec.disaggregation import PdRole, RdmaSpec
from vllm_infra.spec.environment import API_KEY_ENV, CACHE_PATH, HF_TOKEN_DIR, TMP_PATH, managed_env
from vllm_infra.spec.model import Dtype, KvCacheDtype
from vllm_infra.spec.resolved import STARTUP_PROBE_PERIOD, ResolvedService
from vllm_infra.spec.scheduling import Spread
from vllm_infra.spec.storage import CacheType
from vllm_infra.vocabulary.kubernetes import (
    HOSTNAME_TOPOLOGY,
    LWS_LEADER_ADDRESS_ENV,
    LWS_WORKER_INDEX_LABEL,
    NODE_RANK_ENV,
    ZONE_TOPOLOGY,
)
from vllm_infra.vocabulary.profiles import RDMA_CAPABILITY
from vllm_infra.vocabulary.units import format_bytes, parse_quantity

CONTAINER_NAME = "vllm"
PORT_NAME = "http"
VLLM_PORT_NAME = "vllm"
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
SHM_PATH = "/dev/shm"
RAY_PORT = 6379
MASTER_PORT = 29501
"""torch.distributed rendezvous on the leader for native multi-node (vLLM's default)."""
EPHEMERAL_OVERHEAD = 2 * 2**30
"""Container logs and writable layer on top of disk-backed emptyDirs."""


class PodRole(StrEnum):
    """What a pod does in its replica."""

    SERVER = "server"
    """Single-node replica: runs ``vllm serve``."""
    LEADER = "leader"
    """Multi-node replica: ``vllm serve`` as node rank 0 (before native multi-node: the Ray head)."""
    WORKER = "worker"
    """Multi-node replica: a headless ``vllm serve`` worker (before native multi-node: a Ray worker)."""


def engine_args(service: ResolvedService, role: PodRole = PodRole.SERVER) -> list[str]:
    """Arguments of ``vllm serve``; every typed field maps to exactly one flag."""
    model, par = service.spec.model, service.spec.parallelism
    revision = [f"--revision={model.revision}"] if service.model_argument == model.id else []
    args = [
        service.model_argument,
        *revision,
        f"--served-model-name={model.name_served}",
        f"--port={service.vllm_port}",
        f"--tensor-parallel-size={par.tensor}",
        f"--pipeline-parallel-size={par.pipeline}",
        f"--gpu-memory-utilization={model.gpu_memory_utilization}",
        f"--max-num-seqs={model.max_num_seqs}",
    ]
    if model.max_model_len:
        args.append(f"--max-model-len={model.max_model_len}")
    if model.dtype != Dtype.AUTO:
        args.append(f"--dtype={model.dtype}")
    if model.quantization:
        args.append(f"--quantization={model.quantization}")
    if model.kv_cache_dtype != KvCacheDtype.AUTO:
        args.append(f"--kv-cache-dtype={model.kv_cache_dtype}")
    if model.trust_remote_code:
        args += ["--trust-remote-code", f"--code-revision={model.revision}"]
    args += loading_args(service)
    if par.nodes > 1:
        args += _multi_node_args(service, role)
    if accepts(service.vllm_version, "--shutdown-timeout"):
        args.append(f"--shutdown-timeout={service.spec.lifecycle.drain.request_timeout}")
    if service.spec.role is not None:
        args.append(f"--kv-transfer-config={kv_transfer_config()}")
    offload = model.kv_offload
    if offload is not None:
        args += [f"--kv-offloading-size={offload.size_gib:g}", f"--kv-offloading-backend={offload.backend}"]
    for flag, value in sorted(model.extra_args.items()):
        if value is True:
            args.append(f"--{flag}")
        elif value is False:
            args.append(f"--no-{flag}")
        else:
            args.append(f"--{flag}={value}")
    return args + lora_args(service)


def _multi_node_args(service: ResolvedService, role: PodRole) -> list[str]:
    """How the pods of a group find each other: vLLM's own multiprocessing executor across nodes
    where the release has it (``--nnodes``), else Ray."""
    if not native_multi_node(service.vllm_version):
        return ["--distributed-executor-backend=ray"]
    args = ["--distributed-executor-backend=mp", f"--nnodes={service.spec.parallelism.nodes}",
            f"--master-addr=$({LWS_LEADER_ADDRESS_ENV})", f"--master-port={MASTER_PORT}"]
    if role == PodRole.WORKER:
        return [*args, f"--node-rank=$({NODE_RANK_ENV})", "--headless"]
    return [*args, "--node-rank=0"]


def _command(service: ResolvedService, role: PodRole) -> dict[str, list[str]]:
    if role == PodRole.SERVER or native_multi_node(service.vllm_version):
        return {"command": ["vllm", "serve"], "args": engine_args(service, role)}
    store = f"--object-store-memory={service.shm_bytes // 2}"
    if role == PodRole.LEADER:
        serve = shlex.join(["vllm", "serve", *engine_args(service, role)])
        nodes = service.spec.parallelism.nodes
        count = ("python3 -c 'import ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); "
                 "print(sum(node[\"Alive\"] for node in ray.nodes()))'")
        script = (f"ray start --head --port={RAY_PORT} {store} --disable-usage-stats && "
                  f"until [ \"$({count})\" = \"{nodes}\" ]; do sleep 5; done && exec {serve}")
        return {"command": ["/bin/sh", "-c"], "args": [script]}
    return {"command": ["/bin/sh", "-c"],
            "args": [f"exec ray start --address=$({LWS_LEADER_ADDRESS_ENV}):{RAY_PORT} {store} "
                     "--disable-usage-stats --block"]}


def _env(service: ResolvedService, role: PodRole) -> list[dict[str, Any]]:
    values = {**managed_env(service), **lora_env(service), **service.spec.env}
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in values.items()]
    secrets = dict(service.spec.secret_env)
    if service.spec.security.api_key_secret:
        secrets[API_KEY_ENV] = service.spec.security.api_key_secret
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
            for name, ref in secrets.items()]
    if role == PodRole.WORKER and native_multi_node(service.vllm_version):
        env.append({"name": NODE_RANK_ENV, "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.labels['{LWS_WORKER_INDEX_LABEL}']"}}})
    env += side_channel_env(service)
    return sorted(env, key=lambda item: item["name"])


def cache_claim_name(service: ResolvedService) -> str:
    """Name of the model-cache PVC (rendered or existing)."""
    return service.spec.storage.model_cache.claim_name or f"{service.name}-model-cache"


def _volumes(service: ResolvedService, context: RenderContext) -> list[dict[str, Any]]:
    cache = service.spec.storage.model_cache
    volumes: list[dict[str, Any]] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": format_bytes(service.shm_bytes)}},
        {"name": "tmp", "emptyDir": {"sizeLimit": service.spec.storage.tmp_size}},
    ]
    if cache.type == CacheType.EMPTY_DIR:
        size = service.model_cache_bytes
        assert size is not None
        volumes.append({"name": "model-cache", "emptyDir": {"sizeLimit": format_bytes(size)}})
    else:
        claim: dict[str, Any] = {"claimName": cache_claim_name(service)}
        if cache.offline:
            claim["readOnly"] = True
        volumes.append({"name": "model-cache", "persistentVolumeClaim": claim})
    token = service.spec.storage.hf_token_secret
    if token:
        volumes.append({"name": "hf-token", "secret": {"secretName": token.name,
                                                      "items": [{"key": token.key, "path": "token"}]}})
    image = model_image_volume(service, context)
    return [*volumes, image] if image else volumes


def _mounts(service: ResolvedService) -> list[dict[str, Any]]:
    cache_mount: dict[str, Any] = {"name": "model-cache", "mountPath": CACHE_PATH}
    if service.spec.storage.model_cache.offline:
        cache_mount["readOnly"] = True
    mounts = [{"name": "dshm", "mountPath": SHM_PATH}, {"name": "tmp", "mountPath": TMP_PATH}, cache_mount]
    if service.spec.storage.hf_token_secret:
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
    return mounts + model_image_mount(service)


def _rdma(service: ResolvedService) -> RdmaSpec | None:
    """The RDMA device of a prefill/decode role's pods (None: none, or not a role)."""
    return service.spec.pair.rdma if service.spec.pair else None


def _resources(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    gpu = service.gpu.resource_name
    memory = format_bytes(service.memory_limit_bytes)
    ephemeral = int(parse_quantity(service.spec.storage.tmp_size)) + EPHEMERAL_OVERHEAD
    if service.spec.storage.model_cache.type == CacheType.EMPTY_DIR:
        ephemeral += service.model_cache_bytes or 0
    if copies_model_image(service, context):
        ephemeral += copied_model_bytes(service)
    storage = format_bytes(ephemeral)
    gpus = {} if service.spec.accelerator.claim else {gpu: service.gpus_per_pod}
    rdma = _rdma(service)
    devices = {**gpus, **({rdma.resource: rdma.count} if rdma else {})}
    requests = {"cpu": service.cpu_request, "memory": memory, "ephemeral-storage": storage, **devices}
    limits: dict[str, Any] = {"memory": memory, "ephemeral-storage": storage, **devices}
    if service.spec.resources.cpu_limit:
        limits["cpu"] = service.spec.resources.cpu_limit
    resources: dict[str, Any] = {"requests": requests, "limits": limits}
    if service.spec.accelerator.claim:
        resources["claims"] = [{"name": CLAIM_NAME}]
    return resources


def vllm_port_name(service: ResolvedService) -> str:
    """The name of vLLM's own port: ``http`` (the Service's), or ``vllm`` behind a routing sidecar."""
    return VLLM_PORT_NAME if service.vllm_port != service.spec.service.port else PORT_NAME


def _probe(port: str, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": HEALTH_PATH, "port": port}, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failures}


def _probes(service: ResolvedService) -> dict[str, Any]:
    """vLLM's own /health (never a sidecar's, which answers for itself)."""
    life, port = service.spec.lifecycle, vllm_port_name(service)
    return {
        "startupProbe": _probe(port, STARTUP_PROBE_PERIOD, 5, service.startup_probe_failures),
        "readinessProbe": _probe(port, life.readiness.period_seconds, life.readiness.timeout_seconds,
                                 life.readiness.failure_threshold),
        "livenessProbe": _probe(port, life.liveness.period_seconds, life.liveness.timeout_seconds,
                                life.liveness.failure_threshold),
    }


def container(service: ResolvedService, role: PodRole, context: RenderContext) -> dict[str, Any]:
    """The vLLM container for one pod role."""
    spec: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": service.spec.image.reference,
        "imagePullPolicy": service.spec.image.pull_policy.value,
        **_command(service, role),
        "env": _env(service, role),
        "resources": _resources(service, context),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"], **({"add": [RDMA_CAPABILITY]} if _rdma(service) else {})},
        },
        "volumeMounts": _mounts(service),
    }
    if role != PodRole.WORKER:
        spec["ports"] = [{"name": vllm_port_name(service), "containerPort": service.vllm_port, "protocol": "TCP"},
                         *side_channel_ports(service)]
        spec.update(_probes(service))
    delay = service.spec.lifecycle.drain.endpoint_delay
    if delay:
        spec["lifecycle"] = {"preStop": {"sleep": {"seconds": delay}}}
    return spec


def _node_affinity(service: ResolvedService) -> dict[str, Any]:
    gpu_terms = [{"key": req.key, "operator": req.operator, "values": list(req.values)}
                 for req in service.gpu.node_labels[service.spec.accelerator.platform]]
    user_terms = [_requirement(req.key, req.operator, req.values)
                  for req in service.spec.scheduling.required_nodes]
    affinity: dict[str, Any] = {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": gpu_terms + user_terms}]}}
    preferred = [{"weight": pref.weight, "preference": {"matchExpressions": [
        _requirement(pref.key, pref.operator, pref.values)]}} for pref in service.spec.scheduling.preferred_nodes]
    if preferred:
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return affinity


def _requirement(key: str, operator: str, values: list[str]) -> dict[str, Any]:
    term: dict[str, Any] = {"key": key, "operator": str(operator)}
    if values:
        term["values"] = list(values)
    return term


def _tolerations(service: ResolvedService) -> list[dict[str, Any]]:
    tolerations: list[dict[str, Any]] = []
    if service.spec.accelerator.tolerate_gpu_taint:
        tolerations.append({"key": service.gpu.taint_key, "operator": "Exists", "effect": "NoSchedule"})
    for tol in service.spec.scheduling.tolerations:
        item: dict[str, Any] = {"key": tol.key, "operator": "Equal" if tol.value is not None else "Exists"}
        if tol.value is not None:
            item["value"] = tol.value
        if tol.effect:
            item["effect"] = tol.effect.value
        if tol.evict_after_seconds is not None:
            item["tolerationSeconds"] = tol.evict_after_seconds
        tolerations.append(item)
    return tolerations


def _spread(service: ResolvedService, selector: dict[str, str]) -> list[dict[str, Any]]:
    constraints = []
    for key, mode in ((HOSTNAME_TOPOLOGY, service.spec.scheduling.spread_nodes),
                      (ZONE_TOPOLOGY, service.spec.scheduling.spread_zones)):
        if mode == Spread.OFF:
            continue
        constraints.append({
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule" if mode == Spread.REQUIRED else "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        })
    return constraints


def pod_template(service: ResolvedService, context: RenderContext, selector: dict[str, str],
                 role: PodRole) -> dict[str, Any]:
    """``spec.template`` (or an LWS leader/worker template) for one pod role."""
    labels = {**common_labels(service, context), **pair_labels(service, serves=role != PodRole.WORKER)}
    if role != PodRole.SERVER:
        labels[ROLE_LABEL] = role.value
    meta: dict[str, Any] = {"labels": labels}
    if service.spec.metrics.scrape_annotations and role != PodRole.WORKER:
        meta["annotations"] = {"prometheus.io/scrape": "true", "prometheus.io/port": str(service.vllm_port),
                               "prometheus.io/path": METRICS_PATH}
    sec = service.spec.security
    pod: dict[str, Any] = {
        "serviceAccountName": service.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": service.grace_period,
        "securityContext": {"runAsNonRoot": True, "runAsUser": sec.run_as_user, "runAsGroup": sec.run_as_group,
                            "fsGroup": sec.fs_group, "seccompProfile": {"type": "RuntimeDefault"}},
        "affinity": {"nodeAffinity": _node_affinity(service)},
        "tolerations": _tolerations(service),
        "containers": [container(service, role, context)],
        "volumes": _volumes(service, context),
    }
    init = loading_init_containers(service, context, pod["containers"][0])
    fetch = fetch_adapters(service, pod["containers"][0]) if role != PodRole.WORKER else None
    if fetch:
        init.append(fetch)
    if role != PodRole.WORKER and service.spec.role == PdRole.DECODE:
        init.append(routing_sidecar(service))
    if init:
        pod["initContainers"] = init
    spread = _spread(service, selector)
    if spread:
        pod["topologySpreadConstraints"] = spread
    claims = pod_claims(service)
    if claims:
        pod["resourceClaims"] = claims
    if service.spec.scheduling.priority_class:
        pod["priorityClassName"] = service.spec.scheduling.priority_class
    if service.spec.scheduling.runtime_class:
        pod["runtimeClassName"] = service.spec.scheduling.runtime_class
    if service.spec.image.pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in service.spec.image.pull_secrets]
    if not pod["tolerations"]:
        del pod["tolerations"]
    return {"metadata": meta, "spec": pod}
