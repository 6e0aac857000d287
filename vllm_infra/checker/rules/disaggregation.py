"""Prefill/decode disaggregation: a KV-transfer configuration vLLM accepts, peers that can reach
each other, both roles on one connector with compatible parallelism, the decode sidecar joined to
vLLM and the pool, and the endpoint picker serving a pool that exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vllm_infra.catalog.vllm import (
    NIXL_CONNECTOR,
    NIXL_EITHER_TP_SINCE,
    NIXL_SIDE_CHANNEL_HOST_DEFAULT,
    NIXL_SIDE_CHANNEL_HOST_ENV,
    UCX_RDMA_TRANSPORTS,
    UCX_TRANSPORTS_ENV,
    VllmVersion,
)
from vllm_infra.catalog.vllm_releases import release_catalog
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.disaggregation import (
    CONSUMERS,
    DECODE,
    PREFILL,
    PRODUCERS,
    Member,
    Pair,
    kv_transfer,
    pairs,
    picker_pool,
    pool_named,
    routing_sidecar,
)
from vllm_infra.checker.reading.environment import env_entries, env_values
from vllm_infra.checker.reading.objects import Manifest, dig, name_of, namespace_of
from vllm_infra.checker.reading.server import api_ports, args_path, engine_args, image_version, vllm_pod_templates
from vllm_infra.checker.reading.templates import containers, disaggregated_roles, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule, resource_rule
from vllm_infra.vocabulary.kubernetes import (
    DISAGGREGATED_SET,
    WORKLOAD_KINDS,
    disaggregated_set_name_overflow,
    group_kind,
)
from vllm_infra.vocabulary.reporting import Severity

RDMA_RESOURCE_MARKERS = ("rdma", "/ib", "infiniband", "roce", "sriov")
"""Device-plugin resource names that give a container an RDMA device (``rdma/ib``,
``rdma/rdma_shared_device_a``, ``nvidia.com/sriov_rdma``...)."""


@resource_rule(
    "VI-PD-001", Severity.CRITICAL, "The KV-transfer configuration is one vLLM accepts and its peers can reach",
    "Pass --kv-transfer-config as a JSON object with kv_connector and kv_role (kv_producer, kv_consumer or "
    "kv_both); for NixlConnector set VLLM_NIXL_SIDE_CHANNEL_HOST from status.podIP; give UCX's RDMA transports an "
    "RDMA device resource.", kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("vLLM refuses a KV-transfer configuration that is not JSON or names a connector without a role; "
               "a NixlConnector engine that publishes localhost cannot be reached by the other role's pods, and "
               "UCX's InfiniBand transports without an RDMA device leave the transfer nowhere to go."),
    example="args: [--kv-transfer-config, '{\"kv_connector\":\"NixlConnector\"}']   # no kv_role")
def kv_transfer_accepted(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _template, server in vllm_pod_templates(obj):
        transfer = kv_transfer(server.spec)
        if transfer is None:
            continue
        if transfer.problem:
            yield Violation(args_path(server), f"vLLM refuses to start: {transfer.problem}")
            continue
        if transfer.connector == NIXL_CONNECTOR and NIXL_SIDE_CHANNEL_HOST_ENV not in env_entries(server.spec) \
                and not server.spec.get("envFrom"):  # a ConfigMap or Secret may set it
            yield Violation((*server.path, "env"), f"{NIXL_SIDE_CHANNEL_HOST_ENV} is unset: vLLM publishes "
                                                   f"{NIXL_SIDE_CHANNEL_HOST_DEFAULT} as where its KV cache is, which "
                                                   "no other pod can reach; set it from the pod's status.podIP",
                            severity=Severity.HIGH)
        transports = {part.strip() for part in env_values(server.spec).get(UCX_TRANSPORTS_ENV, "").split(",")}
        rdma = sorted(transports & UCX_RDMA_TRANSPORTS)
        resources = {str(name) for key in ("requests", "limits")
                     for name in (dig(server.spec, "resources", key, default={}) or {})}
        if rdma and not any(marker in name.lower() for name in resources for marker in RDMA_RESOURCE_MARKERS):
            yield Violation((*server.path, "resources"), f"{UCX_TRANSPORTS_ENV} asks for RDMA transports "
                                                         f"({', '.join(rdma)}) but the container requests no RDMA "
                                                         "device: UCX finds no InfiniBand/RoCE device to send on",
                            severity=Severity.HIGH)


def _version(member: Member) -> VllmVersion:
    return image_version(member.server.spec, member.template.labels) or release_catalog().newest.version


def _kind(member: Member) -> str:
    return f"{member.workload.get('kind')}/{name_of(member.workload)}"


def _connectors(pair: Pair) -> Iterator[Violation]:
    """Both roles on one connector, each on the side of the transfer its role takes."""
    transfers = {id(member): kv_transfer(member.server.spec) for member in pair.members}
    sides = {role: [member for member in pair.of(role) if transfers[id(member)] is not None]
             for role in (PREFILL, DECODE)}
    for role, other in ((PREFILL, DECODE), (DECODE, PREFILL)):
        for member in pair.of(role):
            if transfers[id(member)] is None and sides[other]:
                yield Violation(args_path(member.server), f"{role} pods of {_kind(member)} set no "
                                f"--kv-transfer-config while {other} pods of the pair do: no KV cache passes between "
                                "them", obj=member.workload)
    connectors = {transfer.connector for transfer in transfers.values() if transfer is not None and transfer.connector}
    if len(connectors) > 1:
        yield Violation(("spec",), f"the pair's pods use different KV connectors ({', '.join(sorted(connectors))}): "
                                   "they cannot exchange KV caches", obj=pair.owner)
    for role, allowed in ((PREFILL, PRODUCERS), (DECODE, CONSUMERS)):
        for member in pair.of(role):
            transfer = transfers[id(member)]
            if transfer is not None and transfer.role and transfer.role not in allowed:
                yield Violation(args_path(member.server), f"kv_role {transfer.role} on {role} pods: a {role} engine "
                                f"must {'send' if role == PREFILL else 'receive'} KV ({' or '.join(sorted(allowed))})",
                                obj=member.workload)


def _parallelism(pair: Pair) -> Iterator[Violation]:
    """NIXL moves KV between TP sizes only when one divides the other (and, before 0.19.1, only to
    a decode TP that is a multiple of the prefill TP)."""
    for decode in pair.of(DECODE):
        transfer = kv_transfer(decode.server.spec)
        if transfer is None or transfer.connector != NIXL_CONNECTOR:
            continue
        decode_tp = engine_args(decode.server.spec).parallelism.tensor
        version = _version(decode)
        for prefill in pair.of(PREFILL):
            prefill_tp = engine_args(prefill.server.spec).parallelism.tensor
            if decode_tp is None or prefill_tp is None:
                continue
            either_way = version >= NIXL_EITHER_TP_SINCE
            bridged = max(decode_tp, prefill_tp) % min(decode_tp, prefill_tp) == 0 if either_way \
                else decode_tp % prefill_tp == 0
            if not bridged:
                needs = "one must divide the other" if either_way else (
                    f"vLLM {version} needs a decode TP that is a multiple of the prefill TP")
                yield Violation(args_path(decode.server), f"NIXL cannot move the KV cache from prefill TP {prefill_tp} "
                                f"({_kind(prefill)}) to decode TP {decode_tp}: {needs}", obj=decode.workload)


def _routing(pair: Pair) -> Iterator[Violation]:
    """Decode pods answer through the sidecar that asks the chosen prefill pod first."""
    if pair.of(PREFILL) and not pair.of(DECODE):
        yield Violation(("spec", "selector"), f"{pair.owner.get('kind')} {name_of(pair.owner)} has prefill pods and no "
                                              "decode pods: requests have nowhere to decode", obj=pair.owner)
    for member in pair.of(DECODE) if pair.of(PREFILL) else ():
        sidecar = routing_sidecar(member.template)
        if sidecar is None:
            if pair.target_port is not None:
                yield Violation((*member.template.path, "containers"), f"decode pods of {_kind(member)} have no "
                                "routing sidecar: the endpoint picker's prefill choice is never used and every "
                                "request prefills on its decode pod", obj=member.workload, severity=Severity.MEDIUM)
            continue
        listening = api_ports(member.server.spec)
        if sidecar.vllm_port is not None and sidecar.vllm_port not in listening:
            port = next(p for p in listening if isinstance(p, int))
            yield Violation((*sidecar.ref.path, "args"), f"the routing sidecar forwards to port {sidecar.vllm_port}, "
                            f"where vLLM does not listen (it serves {port})", obj=member.workload)
        if pair.target_port is not None and sidecar.port is not None and sidecar.port != pair.target_port:
            yield Violation((*sidecar.ref.path, "args"), f"the routing sidecar listens on {sidecar.port} but "
                            f"InferencePool {name_of(pair.owner)} sends requests to {pair.target_port}: requests "
                            "bypass it", obj=member.workload)


@bundle_rule(
    "VI-PD-002", Severity.HIGH, "Prefill and decode pods of one pair can pass the KV cache and route through it",
    "Give both roles the same kv_connector (prefill sends: kv_producer or kv_both; decode receives: kv_consumer or "
    "kv_both), TP sizes the connector bridges, decode pods a routing sidecar whose --vllm-port is vLLM's --port "
    "and whose --port is the pool's target port.", gpu=True,
    rationale=("A prefill pod that sends KV nobody receives, a connector on one side only, or TP sizes NIXL "
               "cannot map make every remote prefill fail or be recomputed; a sidecar on the wrong port drops "
               "or bypasses the requests the endpoint picker routed."),
    example=("decode: --kv-transfer-config absent, prefill: "
             "'{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}'"))
def pairs_connect(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for pair in pairs(bundle):
        yield from _connectors(pair)
        yield from _parallelism(pair)
        yield from _routing(pair)


@bundle_rule(
    "VI-PD-003", Severity.HIGH, "The endpoint picker serves an InferencePool of the manifests",
    "Name the InferencePool the picker routes for with --pool-name (and --pool-namespace when it lives elsewhere).",
    gpu=True,
    rationale="An endpoint picker watching a pool that does not exist picks no endpoint: the gateway fails every "
              "request (FailClose) or bypasses the picker (FailOpen).",
    example="args: [--pool-name, llama-pd]   # the InferencePool is called llama")
def picker_has_pool(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    namespaces_with_pools = {namespace_of(pool) for pool in bundle.of_kind("InferencePool")}
    for obj in bundle.objects:
        for template in pod_templates(obj):
            for ref in containers(template, include_init=False):
                served = picker_pool(ref.spec)
                if served is None:
                    continue
                pool, namespace = served[0], served[1] or namespace_of(obj)
                if namespace in namespaces_with_pools and pool_named(bundle, pool, namespace) is None:
                    yield Violation((*ref.path, "args"), f"the endpoint picker serves InferencePool {pool}, which is "
                                    f"not in namespace {namespace} of the manifests", obj=obj)


@resource_rule(
    "VI-PD-004", Severity.HIGH, "The LWS webhook admits the DisaggregatedSet",
    "Keep the set and role names short enough for <set>-<slice>-<revision>-<role>-prv (63 characters), leave "
    "rolloutStrategy at RollingUpdate without a partition, and give every statically scaled role replicas, or none.",
    kinds={DISAGGREGATED_SET[1]}, gpu=True,
    rationale=("The DisaggregatedSet controller names each role's LeaderWorkerSet and Service after the set, the "
               "slice, an 8-character revision and the role, and rolls the roles out itself; its webhook and schema "
               "refuse names that overflow 63 characters, partitions, other rollout types and a set whose roles are "
               "partly scaled to zero."),
    example="roles: [{name: prefill, spec: {replicas: 2}}, {name: decode, spec: {replicas: 0}}]")
def disaggregated_set_admitted(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if group_kind(obj) != DISAGGREGATED_SET:
        return
    slices = dig(obj, "spec", "slices", default=1)
    slices = slices if type(slices) is int and slices > 0 else 1
    static: list[tuple[int, Any]] = []
    for index, role in disaggregated_roles(obj):
        base = ("spec", "roles", index)
        overflow = disaggregated_set_name_overflow(name_of(obj), role, slices)
        if overflow > 0:
            yield Violation((*base, "name"), f"role {role}'s Service name <set>-<slice>-<revision>-{role}-prv is "
                                             f"{overflow} character(s) over 63: the webhook refuses the set")
        rollout = dig(obj, *base, "spec", "rolloutStrategy", default={}) or {}
        if isinstance(rollout, dict) and rollout.get("type", "RollingUpdate") != "RollingUpdate":
            yield Violation((*base, "spec", "rolloutStrategy", "type"), f"role {role} rolls out by "
                            f"{rollout.get('type')}: the set rolls its roles out with RollingUpdate only")
        if dig(rollout, "rollingUpdateConfiguration", "partition", default=None) not in (None, 0):
            yield Violation((*base, "spec", "rolloutStrategy", "rollingUpdateConfiguration", "partition"),
                            f"role {role} sets a partition: the set steps its roles itself and refuses one")
        if dig(obj, *base, "scaling", "mode", default="Static") != "External":
            static.append((index, dig(obj, *base, "spec", "replicas", default=1)))  # the schema's default
    scaled = [index for index, replicas in static if type(replicas) is int and replicas > 0]
    if scaled and len(scaled) < len(static):
        idle = [index for index, _replicas in static if index not in scaled]
        yield Violation(("spec", "roles", idle[0], "spec", "replicas"), "some statically scaled roles have replicas "
                        "and others none: the schema refuses a set that is partly scaled to zero")
