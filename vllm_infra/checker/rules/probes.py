"""Start-up, health and shutdown behaviour of the vLLM container."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.capacity.memory import DTYPE_BYTES, QUANTIZED_BYTES
from vllm_infra.capacity.startup import startup_seconds
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.vllm import SHUTDOWN_TIMEOUT_SINCE, VllmVersion
from vllm_infra.checker.rules.base import Manifest, RuleContext, Violation, resource_rule
from vllm_infra.checker.rules.k8s import (
    ContainerRef,
    args_path,
    containers,
    dig,
    engine_args,
    env_values,
    gpu_count,
    group_size,
    image_parts,
    pod_templates,
    probe_budget,
    vllm_pod_templates,
)
from vllm_infra.vocabulary.kubernetes import SERVING_KINDS
from vllm_infra.vocabulary.limits import MIN_PRE_STOP_SECONDS, required_grace_period
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity

HEALTH_PATHS = frozenset({"/health", "/v1/models", "/ready", "/readyz"})
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_SLEEP = re.compile(r"\bsleep\s+(\d+)")


def _serving_templates(obj: Manifest) -> Iterator[tuple[FieldPath, Mapping[str, Any], ContainerRef]]:
    for template, serving in vllm_pod_templates(obj):
        if template.role != "worker":
            yield template.path, template.spec, serving


def load_budget(container: Mapping[str, Any], ctx: RuleContext, gpus_in_group: int) -> int:
    """Seconds a cold start of this container's model takes (catalog models), else the default."""
    args = engine_args(container)
    arch = MODEL_CATALOG.get(args.model or "")
    if arch is None:
        return ctx.default_load_budget
    quantization = args.flag("quantization")
    dtype = args.flag("dtype")
    return startup_seconds(arch, dtype=dtype if isinstance(dtype, str) and dtype in DTYPE_BYTES else "auto",
                           quantization=quantization if isinstance(quantization, str) and quantization
                           in QUANTIZED_BYTES else None, gpus=max(1, gpus_in_group),
                           downloads=env_values(container).get("HF_HUB_OFFLINE") != "1")


@resource_rule(
    "VI-PRB-001", Severity.CRITICAL, "A startup probe covers the model's load budget",
    "Add a startupProbe on /health whose periodSeconds x failureThreshold covers download + load + CUDA graph "
    "capture (600s, or more for large models); liveness only starts after it passes.", kinds=SERVING_KINDS,
    gpu=True)
def startup_budget(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _path, _spec, serving in _serving_templates(obj):
        probe = serving.spec.get("startupProbe")
        budget = load_budget(serving.spec, ctx, gpu_count(serving.spec) * group_size(obj))
        if not probe:
            yield Violation(serving.path, f"container '{serving.spec.get('name')}' has no startupProbe; liveness "
                                          "will kill it while the model loads")
        elif probe_budget(probe) < budget:
            yield Violation((*serving.path, "startupProbe"), f"startupProbe allows {probe_budget(probe)}s, less than "
                                                             f"the {budget}s load budget")


def _api_ports(container: Mapping[str, Any]) -> set[str | int]:
    port = engine_args(container).flag("port")
    ports: set[str | int] = {int(port) if isinstance(port, str) and port.isdigit() else 8000}
    for item in container.get("ports") or []:
        if item.get("containerPort") in ports and item.get("name"):
            ports.add(str(item["name"]))
    return ports


@resource_rule(
    "VI-PRB-002", Severity.HIGH, "Readiness on /health; liveness differs and tolerates 3 failures",
    "Probe readiness with httpGet /health on the API port; make liveness differ from readiness with "
    "failureThreshold >= 3; drop initialDelaySeconds once a startupProbe exists.", kinds=SERVING_KINDS)
def readiness_and_liveness(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _path, _spec, serving in _serving_templates(obj):
        container = serving.spec
        readiness, liveness = container.get("readinessProbe"), container.get("livenessProbe")
        if not readiness:
            yield Violation(serving.path, "no readinessProbe; traffic reaches pods that are not serving")
        elif dig(readiness, "httpGet", "path") not in HEALTH_PATHS or \
                dig(readiness, "httpGet", "port") not in _api_ports(container):
            yield Violation((*serving.path, "readinessProbe"), "readinessProbe is not an httpGet on /health at the "
                                                               "API port")
        if liveness:
            if liveness == readiness:
                yield Violation((*serving.path, "livenessProbe"), "livenessProbe is identical to readinessProbe")
            if int(liveness.get("failureThreshold", 3)) < 3:
                yield Violation((*serving.path, "livenessProbe", "failureThreshold"),
                                "livenessProbe restarts after fewer than 3 failures (a restart reloads the model)")
        if container.get("startupProbe"):
            for key in ("readinessProbe", "livenessProbe"):
                if dig(container, key, "initialDelaySeconds"):
                    yield Violation((*serving.path, key, "initialDelaySeconds"),
                                    f"{key} uses initialDelaySeconds although a startupProbe gates it")


@resource_rule(
    "VI-PRB-003", Severity.HIGH, "Probe ports exist on the container",
    "Point probes at a port name or number listed in the container's ports.", kinds=SERVING_KINDS)
def probe_ports(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template, include_init=False):
            names = {p.get("name") for p in ref.spec.get("ports") or []}
            numbers = {p.get("containerPort") for p in ref.spec.get("ports") or []}
            for key in PROBES:
                for action in ("httpGet", "tcpSocket", "grpc"):
                    port = dig(ref.spec, key, action, "port")
                    if port is None:
                        continue
                    if (isinstance(port, str) and port not in names) or (isinstance(port, int) and port not in numbers):
                        yield Violation((*ref.path, key, action, "port"),
                                        f"{key} targets port {port!r}, which the container does not declare")


def _pre_stop_seconds(container: Mapping[str, Any]) -> int | None:
    pre_stop = dig(container, "lifecycle", "preStop") or {}
    if "sleep" in pre_stop:
        return int(dig(pre_stop, "sleep", "seconds", default=0))
    match = _SLEEP.search(" ".join(str(t) for t in dig(pre_stop, "exec", "command", default=[]) or []))
    return int(match.group(1)) if match else None


def image_version(container: Mapping[str, Any], labels: Mapping[str, str]) -> VllmVersion | None:
    """vLLM release from the image tag, else from the ``app.kubernetes.io/version`` label."""
    _repo, tag, _digest = image_parts(str(container.get("image", "")))
    return VllmVersion.parse(tag or "") or VllmVersion.parse(str(labels.get("app.kubernetes.io/version", "")))


@resource_rule(
    "VI-PRB-004", Severity.HIGH, "Graceful drain: preStop sleep and a grace period covering it",
    "Add lifecycle.preStop.sleep, pass --shutdown-timeout (vLLM >= 0.18) and set terminationGracePeriodSeconds "
    ">= preStop + shutdown timeout + 5 and >= 60.", kinds=SERVING_KINDS, gpu=True)
def graceful_drain(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if template.role == "worker":
            continue
        pre_stop = _pre_stop_seconds(serving.spec)
        if pre_stop is None or pre_stop < MIN_PRE_STOP_SECONDS:
            yield Violation((*serving.path, "lifecycle"), "no preStop sleep; new requests still arrive after "
                                                          "SIGTERM")
        timeout_text = engine_args(serving.spec).flag("shutdown-timeout")
        timeout = int(timeout_text) if isinstance(timeout_text, str) and timeout_text.isdigit() else 0
        grace = int(template.spec.get("terminationGracePeriodSeconds", 30))
        needed = required_grace_period(pre_stop or 0, timeout)
        if grace < needed:
            yield Violation((*template.path, "terminationGracePeriodSeconds"),
                            f"terminationGracePeriodSeconds {grace} < {needed} (preStop {pre_stop or 0}s + shutdown "
                            f"timeout {timeout}s + 5s, at least 60s)")
        version = image_version(serving.spec, template.labels)
        if not timeout and (version is None or version >= SHUTDOWN_TIMEOUT_SINCE):
            yield Violation(args_path(serving), "--shutdown-timeout is not set: SIGTERM aborts in-flight requests",
                            severity=Severity.LOW)


@resource_rule(
    "VI-PRB-005", Severity.MEDIUM, "vLLM runs as PID 1 (exec form or exec inside sh -c)",
    "Use command: [vllm, serve] or 'exec vllm serve ...' in a shell script so SIGTERM reaches vLLM.",
    kinds=SERVING_KINDS, gpu=True)
def exec_form(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if template.role == "worker":
            continue
        if not engine_args(serving.spec).exec_form:
            yield Violation(args_path(serving), "the shell stays PID 1, so SIGTERM never reaches vLLM (use exec)")
