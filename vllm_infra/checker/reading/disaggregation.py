"""Prefill/decode disaggregation as the manifests state it: each vLLM server's KV-transfer
configuration as vLLM parses it, the pod's llm-d role, the decode pod's routing sidecar, the
endpoint picker's pool, and which prefill and decode pods serve together (an InferencePool's
pods, or the roles of an LWS DisaggregatedSet)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vllm_infra.catalog.vllm import KV_ROLES
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.commands import command_line
from vllm_infra.checker.reading.objects import Manifest, as_list, dig, name_of, namespace_of
from vllm_infra.checker.reading.server import engine_args, serving_container
from vllm_infra.checker.reading.templates import ContainerRef, PodTemplate, containers
from vllm_infra.vocabulary.kubernetes import DISAGGREGATED_SET, PD_MODEL_LABEL, PD_ROLE_LABEL, group_kind

KV_TRANSFER_FLAG = "kv-transfer-config"
PREFILL, DECODE = "prefill", "decode"
PRODUCERS = frozenset({"kv_producer", "kv_both"})
CONSUMERS = frozenset({"kv_consumer", "kv_both"})
SIDECAR_MODEL_PORT_FLAGS = ("--vllm-port", "-vllm-port", "--model-server-port", "-model-server-port")
"""How sidecar releases spell the port they forward to (``--vllm-port``, renamed ``--model-server-port``;
Go's flag package takes one dash or two)."""
SIDECAR_DEFAULT_MODEL_PORT = 8200
"""Where the sidecar forwards without the flag: llm-d-modelservice's ``routingProxy`` default, which the
guides that leave the flag out serve vLLM on."""
SIDECAR_IMAGE_MARKERS = ("llm-d-routing-sidecar", "llm-d-router-disagg-sidecar")
"""The sidecar's image names (renamed in llm-d v0.10)."""
PICKER_POOL_FLAGS = ("--pool-name", "-poolName", "--poolName", "-pool-name")
"""How endpoint picker releases have spelled the flag naming their InferencePool."""
PICKER_NAMESPACE_FLAGS = ("--pool-namespace", "-poolNamespace", "--poolNamespace", "-pool-namespace")


@dataclass(frozen=True)
class KvTransfer:
    """``--kv-transfer-config`` as vLLM reads it."""

    connector: str | None
    role: str | None
    problem: str | None = None
    """Why vLLM refuses it at start (None: it accepts it)."""


def kv_transfer(container: Mapping[str, Any]) -> KvTransfer | None:
    """The container's KV-transfer configuration (None: it sets none)."""
    value = engine_args(container).flag(KV_TRANSFER_FLAG)
    if value is None:
        return None
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return KvTransfer(None, None, f"--{KV_TRANSFER_FLAG} is not JSON: {str(value)[:80]}")
    if not isinstance(data, dict):
        return KvTransfer(None, None, f"--{KV_TRANSFER_FLAG} is not a JSON object")
    connector, role = data.get("kv_connector"), data.get("kv_role")
    if connector is not None and role is None:
        return KvTransfer(str(connector), None, f"kv_connector {connector} is set without a kv_role (one of "
                                                f"{', '.join(KV_ROLES)})")
    if role is not None and role not in KV_ROLES:
        return KvTransfer(str(connector), str(role), f"kv_role {role!r} is not one of {', '.join(KV_ROLES)}")
    return KvTransfer(str(connector) if connector else None, str(role) if role else None)


def pd_role(template: PodTemplate) -> str | None:
    """``prefill`` or ``decode`` (llm-d's role label, or the DisaggregatedSet role's name)."""
    label = template.labels.get(PD_ROLE_LABEL) if isinstance(template.labels, Mapping) else None
    return str(label) if label is not None else None


@dataclass(frozen=True)
class RoutingSidecar:
    """A decode pod's P/D routing sidecar and the two ports it joins."""

    ref: ContainerRef
    port: int | None
    """Where it listens (the pool's target)."""
    vllm_port: int | None
    """Where it forwards (vLLM's ``--port``)."""


def _flag_value(words: tuple[str, ...], flag: str) -> str | None:
    for index, word in enumerate(words):
        if word == flag and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(f"{flag}="):
            return word.split("=", 1)[1]
    return None


def _port(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def routing_sidecar(template: PodTemplate) -> RoutingSidecar | None:
    """The container that forwards to vLLM (llm-d's pd-sidecar, named by its port flag in any spelling or
    by its image), if any."""
    for ref in containers(template):
        words = command_line(ref.spec).words
        flagged = next((value for flag in SIDECAR_MODEL_PORT_FLAGS if (value := _flag_value(words, flag)) is not None),
                       None)
        image = str(ref.spec.get("image", ""))
        if flagged is None and not any(marker in image for marker in SIDECAR_IMAGE_MARKERS):
            continue
        listen = _flag_value(words, "--port") or _flag_value(words, "-port")
        return RoutingSidecar(ref, _port(listen), _port(flagged) if flagged is not None else SIDECAR_DEFAULT_MODEL_PORT)
    return None


def picker_pool(container: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """(name, namespace or None) of the InferencePool an endpoint picker container serves
    (``--pool-name``, ``--pool-namespace``); None for other containers."""
    words = command_line(container).words
    name = next((value for flag in PICKER_POOL_FLAGS if (value := _flag_value(words, flag)) is not None), None)
    if name is None:
        return None
    return name, next((value for flag in PICKER_NAMESPACE_FLAGS if (value := _flag_value(words, flag)) is not None),
                      None)


@dataclass(frozen=True)
class Member:
    """One kind of pod of a prefill/decode pair."""

    workload: Manifest
    template: PodTemplate
    server: ContainerRef
    role: str


@dataclass(frozen=True)
class Pair:
    """Prefill and decode pods that serve together, and what joins them."""

    owner: Manifest
    """The InferencePool or DisaggregatedSet they are found through (findings on the pair go there)."""
    members: tuple[Member, ...]
    target_port: int | None = None
    """The pool's target port (None for a DisaggregatedSet)."""

    def of(self, role: str) -> list[Member]:
        """The members of one role."""
        return [member for member in self.members if member.role == role]


def _pool_pair(bundle: Bundle, pool: Manifest) -> Pair | None:
    selector = dig(pool, "spec", "selector", "matchLabels")
    if not isinstance(selector, Mapping) or not selector:
        return None
    members = []
    for workload, template in bundle.templates_selected(namespace_of(pool), selector):
        server, role = serving_container(template), pd_role(template)
        if server is not None and role in (PREFILL, DECODE):
            members.append(Member(workload, template, server, str(role)))
    ports = [dig(item, "number") for item in as_list(dig(pool, "spec", "targetPorts"))]
    port = ports[0] if ports and type(ports[0]) is int else None
    return Pair(pool, tuple(members), port) if members else None


def _set_pair(obj: Manifest, bundle: Bundle) -> Pair | None:
    roles = {index: str(role.get("name")) for index, role in enumerate(as_list(dig(obj, "spec", "roles")))
             if isinstance(role, Mapping)}
    members = []
    for template in bundle.templates_of(obj):
        index = template.path[2] if len(template.path) > 2 and template.path[:2] == ("spec", "roles") else None
        role = roles.get(index) if isinstance(index, int) else None
        server = serving_container(template)
        if server is not None and role in (PREFILL, DECODE) and template.role != "worker":
            members.append(Member(obj, template, server, str(role)))
    return Pair(obj, tuple(members)) if members else None


def _model_pairs(bundle: Bundle, paired: set[int]) -> Iterator[Pair]:
    """Role pods no pool of the manifests selects, paired by llm-d's model label (its charts put
    ``llm-d.ai/model`` on both roles of one model; the pool may be applied from elsewhere)."""
    groups: dict[tuple[str, str], list[Member]] = {}
    for obj in bundle.objects:
        for template in bundle.templates_of(obj):
            model = template.labels.get(PD_MODEL_LABEL) if isinstance(template.labels, Mapping) else None
            server, role = serving_container(template), pd_role(template)
            if model is None or server is None or role not in (PREFILL, DECODE) or id(template) in paired:
                continue
            groups.setdefault((namespace_of(obj), str(model)), []).append(Member(obj, template, server, str(role)))
    for members in groups.values():
        yield Pair(members[0].workload, tuple(members))


def pairs(bundle: Bundle) -> Iterator[Pair]:
    """Every prefill/decode pair: the pods of each InferencePool that carry a role, each
    DisaggregatedSet's roles, and role pods of one model that no pool selects."""
    paired: set[int] = set()
    for pool in bundle.of_kind("InferencePool"):
        pair = _pool_pair(bundle, pool)
        if pair is not None:
            paired |= {id(member.template) for member in pair.members}
            yield pair
    for obj in bundle.of_kind(DISAGGREGATED_SET[1]):
        if group_kind(obj) == DISAGGREGATED_SET:
            pair = _set_pair(obj, bundle)
            if pair is not None:
                paired |= {id(member.template) for member in pair.members}
                yield pair
    yield from _model_pairs(bundle, paired)


def pool_named(bundle: Bundle, name: str, namespace: str) -> Manifest | None:
    """The InferencePool ``name`` in ``namespace`` (either API group's)."""
    return next((pool for pool in bundle.of_kind("InferencePool")
                 if name_of(pool) == name and namespace_of(pool) == namespace), None)
