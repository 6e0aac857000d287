"""Start-up, health and shutdown behaviour of the vLLM container."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.catalog.vllm_releases import accepts
from vllm_infra.checker.reading.accelerators import gpu_count
from vllm_infra.checker.reading.objects import Manifest, dig
from vllm_infra.checker.reading.probes import (
    generation_request,
    load_budget,
    local_requests,
    probe_budget,
    probe_field,
    serving_templates,
)
from vllm_infra.checker.reading.server import (
    api_ports,
    args_path,
    engine_args,
    image_version,
    is_vllm_container,
    vllm_pod_templates,
)
from vllm_infra.checker.reading.templates import (
    ContainerRef,
    containers,
    declared_ports,
    pod_templates,
    running_containers,
)
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import SERVING_KINDS
from vllm_infra.vocabulary.limits import (
    LIVENESS_MIN_FAILURE_THRESHOLD,
    LIVENESS_MIN_TOLERANCE_SECONDS,
    MIN_PRE_STOP_SECONDS,
    READINESS_MIN_FAILURE_THRESHOLD,
    required_grace_period,
)
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity

HEALTH_PATHS = frozenset({"/health", "/v1/models", "/ready", "/readyz"})
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
HOOKS = ("postStart", "preStop")
_SLEEP = re.compile(r"\bsleep\s+(\d+)")


@resource_rule(
    "VI-PRB-001", Severity.CRITICAL, "A startup probe covers the model's load budget",
    "Add a startupProbe on /health whose periodSeconds x failureThreshold covers download + load + CUDA graph "
    "capture (600s, or more for large models); liveness only starts after it passes.", kinds=SERVING_KINDS,
    gpu=True,
    rationale=("Large models take minutes to download and load; without a startup probe that covers it the"
               " liveness probe kills the server before it serves, in a CrashLoopBackOff."),
    example=("livenessProbe: {httpGet: {path: /health, port: 8000}, failureThreshold: 3}   # no "
             "startupProbe, 70B weights"))
def startup_budget(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if template.role == "worker":
            continue  # workers join their leader's server
        probe, liveness = serving.spec.get("startupProbe"), serving.spec.get("livenessProbe")
        budget = load_budget(serving.spec, gpu_count(serving.spec) * template.size, ctx.default_load_budget)
        if not probe:
            if isinstance(liveness, Mapping) and probe_budget(liveness) < budget:
                yield Violation(serving.path, f"container '{serving.spec.get('name')}' has no startupProbe; liveness "
                                              f"(initialDelaySeconds {probe_field(liveness, 'initialDelaySeconds')} "
                                              f"+ {probe_field(liveness, 'failureThreshold')} x "
                                              f"{probe_field(liveness, 'periodSeconds')}s) kills the server after "
                                              f"{probe_budget(liveness)}s, before the {budget}s load budget")
        elif probe_budget(probe) < budget:
            yield Violation((*serving.path, "startupProbe"), f"startupProbe allows {probe_budget(probe)}s, less than "
                                                             f"the {budget}s load budget")


def _liveness(serving: ContainerRef, liveness: Mapping[str, Any], readiness: Any) -> Iterator[Violation]:
    path = (*serving.path, "livenessProbe")
    if liveness == readiness:
        yield Violation(path, "livenessProbe is identical to readinessProbe")
    generation = generation_request(liveness)
    if generation is not None:
        yield Violation(path, f"livenessProbe asks the model for work ({generation.written}): it waits in the "
                              "scheduler's queue behind real requests, so under load it times out and the kubelet "
                              "restarts a busy, healthy server; probe /health")
    failures, period = probe_field(liveness, "failureThreshold"), probe_field(liveness, "periodSeconds")
    if failures < LIVENESS_MIN_FAILURE_THRESHOLD:
        yield Violation((*path, "failureThreshold"),
                        "livenessProbe restarts after fewer than 3 failures (a restart reloads the model)")
    elif failures * period < LIVENESS_MIN_TOLERANCE_SECONDS:
        yield Violation(path, f"livenessProbe restarts the server after a {failures * period}s stall "
                              f"(failureThreshold {failures} x periodSeconds {period}, timeoutSeconds "
                              f"{probe_field(liveness, 'timeoutSeconds')}): too aggressive for a server busy with "
                              f"long prefills; allow at least {LIVENESS_MIN_TOLERANCE_SECONDS}s")


@resource_rule(
    "VI-PRB-002", Severity.HIGH, "Readiness on /health; liveness differs and tolerates a busy server",
    "Probe readiness with httpGet /health on the API port with failureThreshold >= 2; make liveness differ from "
    "readiness, with failureThreshold >= 3 and at least 30s of failures before a restart.", kinds=SERVING_KINDS,
    rationale=("Readiness must follow vLLM's /health so traffic stops when it cannot serve; a liveness "
               "probe identical to readiness, or intolerant of a busy server, restarts healthy servers "
               "under load."),
    example="readinessProbe: {tcpSocket: {port: 8000}}")
def readiness_and_liveness(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _path, _spec, serving in serving_templates(obj):
        container = serving.spec
        readiness, liveness = container.get("readinessProbe"), container.get("livenessProbe")
        if not isinstance(readiness, Mapping) or not readiness:
            yield Violation(serving.path, "no readinessProbe; traffic reaches pods that are not serving")
        else:
            if dig(readiness, "httpGet", "path") not in HEALTH_PATHS or \
                    dig(readiness, "httpGet", "port") not in api_ports(container):
                yield Violation((*serving.path, "readinessProbe"), "readinessProbe is not an httpGet on /health at "
                                                                   "the API port")
            failures = probe_field(readiness, "failureThreshold")
            if failures < READINESS_MIN_FAILURE_THRESHOLD:
                yield Violation((*serving.path, "readinessProbe", "failureThreshold"),
                                f"readinessProbe failureThreshold {failures}: a single failure (one slow /health "
                                "under load) takes the pod out of its Service, and it flaps")
        if isinstance(liveness, Mapping) and liveness:
            yield from _liveness(serving, liveness, readiness)


@resource_rule(
    "VI-PRB-003", Severity.HIGH, "Probe ports exist on the container",
    "Point probes at a port name the container declares, or at the port vLLM listens on.", kinds=SERVING_KINDS,
    rationale="A probe on a port the container does not declare or listen on always fails.",
    example=("startupProbe: {httpGet: {path: /health, port: metrics}}   # no container port named metrics"))
def probe_ports(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template, include_init=False):
            declared = [p for p in ref.spec.get("ports") or [] if isinstance(p, Mapping)]
            names = {p.get("name") for p in declared}
            listening = {p.get("containerPort") for p in declared}
            serves = is_vllm_container(ref.spec)
            if serves:
                listening |= api_ports(ref.spec)
            for key in PROBES:
                for action in ("httpGet", "tcpSocket", "grpc"):
                    port = dig(ref.spec, key, action, "port")
                    if isinstance(port, str) and not port.isdigit() and port not in names:
                        yield Violation((*ref.path, key, action, "port"),
                                        f"{key} targets port {port!r}, which the container does not declare")
                    elif type(port) is int and serves and port not in listening:
                        yield Violation((*ref.path, key, action, "port"),
                                        f"{key} targets port {port}, which the container does not declare and "
                                        "vLLM does not listen on: nothing answers")
            if serves:
                # vLLM listens on its --port whatever the container declares; sidecars on what they declare
                sidecars = [c for c in running_containers(template.spec) if c is not ref.spec]
                yield from _commands_reach_nothing(ref, declared_ports(sidecars)[1] | {
                    port for port in api_ports(ref.spec) if isinstance(port, int)})


def _commands_reach_nothing(ref: ContainerRef, listening: set[int]) -> Iterator[Violation]:
    """Exec probes and lifecycle hooks that call a port of their own pod where nothing listens (a
    preStop that waits for the server by polling the wrong port returns at once, or never)."""
    handlers: list[tuple[FieldPath, str, Any]] = [((key,), key, ref.spec[key]) for key in PROBES
                                                  if isinstance(ref.spec.get(key), Mapping) and "exec" in ref.spec[key]]
    handlers += [(("lifecycle", hook), hook, dig(ref.spec, "lifecycle", hook)) for hook in HOOKS]
    for path, name, handler in handlers:
        for request in local_requests(handler):
            if type(request.port) is int and request.port not in listening:
                yield Violation((*ref.path, *path), f"{name} calls port {request.port} ({request.written}), where "
                                                    f"nothing in the pod listens: vLLM serves on "
                                                    f"{_api_port(ref.spec)}")


def _api_port(container: Mapping[str, Any]) -> int:
    return next(port for port in api_ports(container) if isinstance(port, int))


def _pre_stop_seconds(container: Mapping[str, Any]) -> int | None:
    pre_stop = dig(container, "lifecycle", "preStop") or {}
    if "sleep" in pre_stop:
        return int(dig(pre_stop, "sleep", "seconds", default=0))
    match = _SLEEP.search(" ".join(str(t) for t in dig(pre_stop, "exec", "command", default=[]) or []))
    return int(match.group(1)) if match else None


@resource_rule(
    "VI-PRB-004", Severity.HIGH, "Graceful drain: preStop sleep and a grace period covering it",
    "Add lifecycle.preStop.sleep, pass --shutdown-timeout (vLLM >= 0.18) and set terminationGracePeriodSeconds "
    ">= preStop + shutdown timeout + 5 and >= 60.", kinds=SERVING_KINDS, gpu=True,
    rationale=("Without a preStop pause and a grace period that covers draining, in-flight requests are "
               "cut when a pod stops."),
    example="terminationGracePeriodSeconds: 10   # and no lifecycle.preStop")
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
        if not timeout and (version is None or accepts(version, "--shutdown-timeout")):
            yield Violation(args_path(serving), "--shutdown-timeout is not set: SIGTERM aborts in-flight requests",
                            severity=Severity.LOW)


@resource_rule(
    "VI-PRB-005", Severity.MEDIUM, "vLLM runs as PID 1 (exec form or exec inside sh -c)",
    "Use command: [vllm, serve] or 'exec vllm serve ...' in a shell script so SIGTERM reaches vLLM.",
    kinds=SERVING_KINDS, gpu=True,
    rationale=("A shell that stays PID 1 does not forward SIGTERM: vLLM never drains and is killed after "
               "the grace period."),
    example="command: [sh, -c, \"vllm serve meta-llama/Llama-3.1-8B-Instruct\"]   # no exec")
def exec_form(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if template.role == "worker":
            continue
        if not engine_args(serving.spec).exec_form:
            yield Violation(args_path(serving), "the shell stays PID 1, so SIGTERM never reaches vLLM (use exec)")
