"""Surviving drains, rollouts and scaling: PDBs, replicas, autoscalers, shared volumes, selectors."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.catalog.vllm import VllmVersion
from vllm_infra.catalog.vllm_releases import release_catalog
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import Manifest, dig, labels_match, name_of, namespace_of
from vllm_infra.checker.reading.probes import start_seconds
from vllm_infra.checker.reading.scaling import max_replicas, min_replicas
from vllm_infra.checker.reading.server import catalogued_version, is_vllm_workload, vllm_pod_templates
from vllm_infra.checker.reading.templates import group_size
from vllm_infra.checker.reading.units import minimum_scale, role_scaler_names, role_scalers, serving_units
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule, resource_rule
from vllm_infra.checker.rules.simulated import UNVERIFIED, simulated
from vllm_infra.checker.simulation.outcomes import Scenario, Verdict
from vllm_infra.vocabulary.autoscalers import AUTOSCALERS, HPA, KEDA_COOLDOWN_DEFAULT, TYPE_PLACEHOLDER
from vllm_infra.vocabulary.kubernetes import DISAGGREGATED_SET_ROLE_SCALER, SERVING_KINDS
from vllm_infra.vocabulary.limits import MAX_SCALE_UP_PERIOD_SECONDS, disruptions_allowed
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity

SATURATION_METRIC = re.compile(r"num_requests_waiting|num_requests_running|kv_cache_usage_perc|gpu_cache_usage_perc|"
                               r"flow_control|epp|queue|wva_desired_replicas", re.IGNORECASE)
_VLLM_METRIC = re.compile(r"vllm[:_]([a-z_]+)")


@bundle_rule(
    "VI-AVL-001", Severity.HIGH, "Each serving workload is covered by exactly one PodDisruptionBudget",
    "Render one PDB (maxUnavailable: 1) per serving workload; the dev profile accepts none.",
    rationale=("Without a PodDisruptionBudget a node drain may evict every replica of a model at once; "
               "with two budgets on one workload the eviction API refuses every eviction."),
    example=("kind: Deployment\n"
             "metadata: {name: llama}\n"
             "spec: {replicas: 2}   # and no PodDisruptionBudget selecting its pods"))
def one_pdb(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    budgets_of: dict[int, list[Manifest]] = {}
    for pdb in bundle.of_kind("PodDisruptionBudget"):
        for _obj, template in bundle.templates_selected(namespace_of(pdb), dig(pdb, "spec", "selector")):
            budgets_of.setdefault(id(template), []).append(pdb)
    for unit in serving_units(bundle):
        if not unit.runs_vllm:
            continue
        budgets = list({id(b): b for t in unit.templates for b in budgets_of.get(id(t), [])}.values())
        if len(budgets) != 1:
            names = ", ".join(name_of(b) for b in budgets) or "none"
            where = ("metadata", "name") if unit.role is None else (*unit.path[:-1], "name")
            subject = "this workload" if unit.role is None else f"role {unit.role}"
            yield Violation(where, f"{len(budgets)} PodDisruptionBudgets select {subject} ({names})", obj=unit.obj)


@bundle_rule(
    "VI-AVL-002", Severity.CRITICAL, "PodDisruptionBudgets always permit a disruption",
    "Prefer maxUnavailable >= 1; keep minAvailable below the minimum replica count; never use minAvailable "
    "with scale-to-zero.",
    rationale=("A budget that allows no disruption (minAvailable equal to the replicas, maxUnavailable: 0,"
               " or minAvailable with scale to zero) blocks node drains and cluster upgrades indefinitely."),
    example=("kind: PodDisruptionBudget\n"
             "spec:\n"
             "  minAvailable: 2        # the workload runs 2 replicas: no eviction is ever allowed"))
def pdb_allows_drain(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.simulation is not None:
        yield from simulated(bundle, ctx.simulation.of(Scenario.DRAIN), ("metadata", "name"),
                             {Verdict.DEGRADED: Severity.MEDIUM})
        return
    unit_of = {id(template): unit for unit in serving_units(bundle) for template in unit.templates}
    for pdb in bundle.of_kind("PodDisruptionBudget"):
        spec = pdb.get("spec") or {}
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if max_unavailable is not None and str(max_unavailable) in ("0", "0%"):
            yield Violation(("spec", "maxUnavailable"), "maxUnavailable 0 blocks every drain", obj=pdb)
            continue
        if min_available is not None and str(min_available) == "100%":
            yield Violation(("spec", "minAvailable"), "minAvailable 100% blocks every drain", obj=pdb)
            continue
        if min_available is None:
            continue
        selected = {id(unit): unit for _obj, template in bundle.templates_selected(namespace_of(pdb),
                                                                                  spec.get("selector"))
                    if (unit := unit_of.get(id(template))) is not None}
        for unit in selected.values():
            scale = minimum_scale(unit, bundle)
            try:
                allowed = disruptions_allowed(min_available=min_available, max_unavailable=None,
                                              replicas=max(1, scale))
            except ValueError:
                continue  # not an int or percentage: the schema rule reports it
            if allowed >= 1:
                continue
            if scale == 0:
                yield Violation(("spec", "minAvailable"), f"minAvailable {min_available} with scale-to-zero on "
                                                          f"{unit.name} blocks drains whenever one replica "
                                                          f"runs ({UNVERIFIED})", obj=pdb)
            else:
                yield Violation(("spec", "minAvailable"), f"minAvailable {min_available} is not below the minimum "
                                                          f"scale {scale} of {unit.name} ({UNVERIFIED})",
                                obj=pdb)


@resource_rule(
    "VI-AVL-003", Severity.MEDIUM, "PDBs evict unhealthy pods (AlwaysAllow)",
    "Set unhealthyPodEvictionPolicy: AlwaysAllow so pods stuck loading never pin a node.",
    kinds={"PodDisruptionBudget"},
    rationale=("A model server that is still loading is not Ready; with the default policy the budget "
               "counts it as healthy-to-protect and a drain waits for a pod that may never become ready."),
    example=("kind: PodDisruptionBudget\n"
             "spec:\n"
             "  maxUnavailable: 1      # unhealthyPodEvictionPolicy unset (IfHealthyBudget)"))
def unhealthy_eviction(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if dig(obj, "spec", "unhealthyPodEvictionPolicy") != "AlwaysAllow":
        yield Violation(("spec",), "unhealthy pods are protected too (unhealthyPodEvictionPolicy is not AlwaysAllow)")


def _spreads_over_hosts(spec: Mapping[str, Any]) -> bool:
    spread = any(c.get("topologyKey") == "kubernetes.io/hostname" for c in spec.get("topologySpreadConstraints") or [])
    anti = dig(spec, "affinity", "podAntiAffinity", default={}) or {}
    terms = (anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []) + [
        t.get("podAffinityTerm", {}) for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    return spread or any(t.get("topologyKey") == "kubernetes.io/hostname" for t in terms)


@bundle_rule(
    "VI-AVL-004", Severity.MEDIUM, "At least two replicas spread over nodes (dev may run one)",
    "Run >= 2 replicas (or autoscaler minimum >= 2) with a topologySpreadConstraint or podAntiAffinity on "
    "kubernetes.io/hostname.",
    rationale=("One replica, or replicas packed on one node, make a single node or GPU failure an outage "
               "of the model."),
    example=("kind: Deployment\n"
             "spec:\n"
             "  replicas: 1            # no second replica, no spread over kubernetes.io/hostname"))
def replicated(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for unit in serving_units(bundle):
        if not unit.runs_vllm:
            continue
        if minimum_scale(unit, bundle) < 2:
            role = f"role {unit.role} has " if unit.role else ""
            yield Violation(unit.path, f"{role}fewer than 2 replicas: one node or GPU failure is an outage",
                            obj=unit.obj)
        for template in unit.templates:
            if template.role != "worker" and not _spreads_over_hosts(template.spec):
                yield Violation(template.path, "replicas are not spread over nodes", obj=unit.obj)


@bundle_rule(
    "VI-AVL-005", Severity.HIGH, "One autoscaler per workload, targeting a rendered workload",
    "Keep a single HPA or ScaledObject per workload and point scaleTargetRef at its kind and name.",
    rationale=("Two autoscalers on one workload fight over its replica count; one pointing at a workload "
               "that does not exist scales nothing."),
    example=("kind: HorizontalPodAutoscaler\n"
             "spec:\n"
             "  scaleTargetRef: {kind: Deployment, name: llama}   # and a ScaledObject on llama too"))
def one_autoscaler(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    role_scalers_made = role_scaler_names(bundle)  # the set's controller creates them
    for scaler in bundle.objects:
        if scaler.get("kind") not in AUTOSCALERS:
            continue
        ref = dig(scaler, "spec", "scaleTargetRef", default={}) or {}
        kind, name = ref.get("kind", "Deployment"), str(ref.get("name"))
        if kind == DISAGGREGATED_SET_ROLE_SCALER and (namespace_of(scaler), name) in role_scalers_made:
            continue
        if bundle.find(kind, name, namespace_of(scaler) or None) is None:
            made = " (a DisaggregatedSet creates one only for a role with scaling.mode: External)" \
                if kind == DISAGGREGATED_SET_ROLE_SCALER else ""
            yield Violation(("spec", "scaleTargetRef"), f"scaleTargetRef {kind}/{name} is not in the manifests{made}",
                            obj=scaler)
    for unit in serving_units(bundle):
        scalers = bundle.autoscalers_of(unit.obj) if unit.role is None else role_scalers(unit, bundle)
        if len(scalers) > 1:
            names = ", ".join(f"{s['kind']}/{name_of(s)}" for s in scalers)
            where = ("metadata", "name") if unit.role is None else (*unit.path[:-1], "scaling")
            subject = "this workload" if unit.role is None else f"role {unit.role}"
            yield Violation(where, f"{len(scalers)} autoscalers target {subject} ({names})", obj=unit.obj)


@bundle_rule(
    "VI-AVL-006", Severity.HIGH, "Autoscaled workloads leave replicas to the autoscaler",
    "Omit spec.replicas (YAML) or register the workload with ignoreChanges: [spec.replicas] (Pulumi).",
    rationale=("A replica count in the manifest is reset on every apply, undoing what the autoscaler "
               "decided."),
    example="kind: Deployment\nspec:\n  replicas: 2            # while an HPA owns the count")
def replicas_owned_by_autoscaler(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for workload in bundle.of_kind(*SERVING_KINDS):
        if bundle.autoscalers_of(workload) and "replicas" in (workload.get("spec") or {}):
            yield Violation(("spec", "replicas"), "spec.replicas is set although an autoscaler owns it; every apply "
                                                  "resets the scale", obj=workload)


def _metric_sources(scaler: Manifest) -> list[tuple[FieldPath, str, str]]:
    """(path, type, metric name or query) of every metric an autoscaler uses; an HPA without
    metrics scales on CPU."""
    kind = AUTOSCALERS[str(scaler.get("kind"))]
    sources: list[tuple[FieldPath, str, str]] = []
    for index, entry in enumerate(dig(scaler, *kind.metrics_path, default=[]) or []):
        if not isinstance(entry, Mapping):
            continue
        source_type = str(entry.get("type", ""))
        body_key = source_type[:1].lower() + source_type[1:]
        texts = (dig(entry, *(body_key if part == TYPE_PLACEHOLDER else part for part in path))
                 for path in kind.metric_text_paths)
        text = next((str(found) for found in texts if found), "")
        sources.append(((*kind.metrics_path, index), source_type, text))
    if not sources and kind is HPA:
        sources.append((("spec",), "Resource", "cpu"))
    return sources


def _activates_from_zero(kind: str, text: str) -> bool:
    """A trigger that has data while no vLLM pod runs (a gateway/router query, a schedule, ...)."""
    return kind == "cron" or (bool(text) and not _VLLM_METRIC.search(text))


def _behavior(scaler: Manifest) -> Mapping[str, Any]:
    return dig(scaler, *AUTOSCALERS[str(scaler.get("kind"))].behavior_path, default={}) or {}


@bundle_rule(
    "VI-AVL-007", Severity.HIGH, "Autoscalers follow vLLM saturation metrics, slowly",
    "Scale on vllm:num_requests_waiting or KV-cache usage (names your vLLM release emits), with scale-down "
    "stabilization >= 300s, scale-up periods >= the startup budget and maxReplicas > minReplicas.", gpu=True,
    rationale=("CPU and memory do not show when a GPU server saturates, a metric the release does not emit"
               " leaves the autoscaler blind, and fast scale-down thrashes replicas that take minutes to "
               "load."),
    example="kind: HorizontalPodAutoscaler\nspec:\n  metrics: [{type: Resource, resource: {name: cpu}}]")
def saturation_autoscaling(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for scaler in bundle.objects:
        if scaler.get("kind") not in AUTOSCALERS:
            continue
        ref = dig(scaler, "spec", "scaleTargetRef", default={}) or {}
        workload = bundle.find(ref.get("kind", "Deployment"), str(ref.get("name")), namespace_of(scaler) or None)
        if workload is None or not is_vllm_workload(workload):
            continue
        sources = _metric_sources(scaler)
        load = [s for s in sources if s[1] not in ("cron",)]
        if not any(SATURATION_METRIC.search(text) for _p, kind, text in load if kind not in ("Resource",
                                                                                            "ContainerResource")):
            yield Violation(("spec",), "no vLLM saturation metric: CPU/memory/GPU utilisation lag LLM load",
                            obj=scaler)
        for path, kind, text in load:
            if kind in ("Resource", "ContainerResource", "cpu", "memory"):
                yield Violation(path, f"scales on {kind} {text or ''}".rstrip() + "; GPU pods are not CPU-bound",
                                obj=scaler)
        yield from _metric_versions(scaler, workload, sources)
        behavior = _behavior(scaler)
        window = dig(behavior, "scaleDown", "stabilizationWindowSeconds", default=300)
        if window < ctx.min_scale_down_stabilization:
            yield Violation(("spec",), f"scale-down stabilization {window}s < {ctx.min_scale_down_stabilization}s "
                                       "removes warm GPU pods on short dips", obj=scaler)
        startup = start_seconds(workload, ctx.default_load_budget)
        periods = [p.get("periodSeconds", 15) for p in dig(behavior, "scaleUp", "policies", default=[]) or []
                   if isinstance(p, Mapping)]
        if not periods or min(periods) < min(startup, MAX_SCALE_UP_PERIOD_SECONDS):
            yield Violation(("spec",), ("no scaleUp behavior: " if not periods else "")
                            + f"scale-up may add pods every {min(periods) if periods else 15}s, faster than a pod "
                              f"starts (~{startup}s)", obj=scaler)
        low, high = min_replicas(scaler), max_replicas(scaler)
        if high <= low:
            yield Violation(("spec",), f"maxReplicas {high} <= minReplicas {low}: nothing to scale", obj=scaler)
        if low == 0 and scaler.get("kind") != "ScaledObject":
            yield Violation(("spec",), "minReplicas 0 needs a KEDA ScaledObject with an activation trigger",
                            obj=scaler)
        elif low == 0 and not any(_activates_from_zero(kind, text) for _p, kind, text in sources):
            yield Violation(("spec", "triggers"), "scale-to-zero without an activator: at 0 replicas vLLM emits no "
                                                  "metrics, so no trigger can wake the service", obj=scaler)
        cooldown = dig(scaler, "spec", "cooldownPeriod", default=KEDA_COOLDOWN_DEFAULT)
        if low == 0 and scaler.get("kind") == "ScaledObject" and type(cooldown) is int and cooldown < startup:
            yield Violation(("spec", "cooldownPeriod"), f"cooldownPeriod {cooldown}s is shorter than the ~{startup}s a "
                            "pod takes to start: a pod still loading emits no metrics, and KEDA scales it back to "
                            "zero before it serves", obj=scaler)


def _metric_versions(scaler: Manifest, workload: Manifest, sources: list[tuple[FieldPath, str, str]]
                     ) -> Iterator[Violation]:
    """Metrics some vLLM release emits that the workload's release does not (renamed, hidden or
    not yet added): the autoscaler would see no data."""
    catalog = release_catalog()
    versions = {catalogued_version(str(s.spec.get("image", ""))) for _t, s in vllm_pod_templates(workload)} - {None}
    for path, _kind, text in sources:
        for name in sorted({f"vllm:{found}" for found in _VLLM_METRIC.findall(text)} & catalog.metric_names):
            for version in sorted(v for v in versions if v is not None):
                metric = catalog.metrics(version).get(name)
                if metric is not None and not metric.hidden:
                    continue
                yield Violation(path, _missing_metric(name, version), obj=scaler)


def _missing_metric(name: str, version: VllmVersion) -> str:
    history = release_catalog().metric_history(name)
    replacement = next((metric.replaced_by for _s, _e, metric in reversed(history) if metric.replaced_by), None)
    hidden = any(start <= version <= end and metric.hidden for start, end, metric in history)
    text = (f"{name} is hidden in vLLM {version} (only shown with --show-hidden-metrics-for-version)" if hidden
            else f"{name} is not emitted by vLLM {version}")
    if history and version < history[0][0]:
        text += f" (first in {history[0][0]})"
    return text + ", so the autoscaler would see no data" + (f"; use {replacement}" if replacement else "")


@resource_rule(
    "VI-AVL-008", Severity.MEDIUM, "Serving pods set a priority class",
    "Set priorityClassName to the cluster's serving class so batch work cannot preempt model servers.",
    kinds=SERVING_KINDS,
    rationale=("Without a priority class a model server can be preempted by batch work, and a GPU node "
               "freed that way is not refilled quickly."),
    example="kind: Deployment\nspec:\n  template:\n    spec: {}             # no priorityClassName")
def priority_class(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, _serving in vllm_pod_templates(obj):
        if not template.spec.get("priorityClassName"):
            yield Violation((*template.path, "priorityClassName"), "no priorityClassName")


@bundle_rule(
    "VI-AVL-009", Severity.CRITICAL, "ReadWriteOnce model caches are mounted by one pod at a time",
    "Use ReadWriteMany/ReadOnlyMany (or per-replica claims) when more than one pod, a surge pod or a multi-node "
    "group mounts the cache.", gpu=True,
    rationale=("A ReadWriteOnce claim attaches to one node: a second replica, a surge pod or a multi-node "
               "worker that mounts it stays Pending."),
    example=("kind: PersistentVolumeClaim\n"
             "spec: {accessModes: [ReadWriteOnce]}   # mounted by a Deployment with 2 replicas"))
def single_attach_volumes(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    mounted_by: dict[tuple[str, str], list[Manifest]] = {}
    for workload in bundle.of_kind(*SERVING_KINDS):
        claims = {dig(v, "persistentVolumeClaim", "claimName") for t in bundle.templates_of(workload)
                  for v in t.spec.get("volumes") or []} - {None}
        for claim_name in claims:
            mounted_by.setdefault((namespace_of(workload), str(claim_name)), []).append(workload)
    for claim in bundle.of_kind("PersistentVolumeClaim"):
        modes = set(dig(claim, "spec", "accessModes", default=[]) or [])
        if not modes or modes & {"ReadWriteMany", "ReadOnlyMany"}:
            continue
        for workload in mounted_by.get((namespace_of(claim), name_of(claim)), []):
            reason = _sharing_reason(bundle, workload)
            if reason:
                yield Violation(("spec", "accessModes"), f"{'/'.join(sorted(modes))} claim is mounted by "
                                                         f"{workload['kind']}/{name_of(workload)} but {reason}",
                                obj=claim)


def _sharing_reason(bundle: Bundle, workload: Manifest) -> str:
    """Why more than one pod may mount the workload's volumes at once ('' if never)."""
    scalers = bundle.autoscalers_of(workload)
    replicas = max([max_replicas(s) for s in scalers] or [int(dig(workload, "spec", "replicas", default=1))])
    rolling = dig(workload, "spec", "strategy", "type", default="RollingUpdate") == "RollingUpdate"
    surge = str(dig(workload, "spec", "strategy", "rollingUpdate", "maxSurge", default="25%"))
    if group_size(workload) > 1:
        return "it is a multi-node group"
    if scalers and replicas > 1:
        return f"it is autoscaled to up to {replicas} replicas"
    if replicas > 1:
        return f"it runs {replicas} replicas"
    if workload.get("kind") == "Deployment" and rolling and surge not in ("0", "0%"):
        return "a surge pod mounts it during rollouts"
    return ""


@bundle_rule(
    "VI-AVL-010", Severity.HIGH, "Selectors select what they protect",
    "Keep workload selectors a subset of template labels and make PDB, NetworkPolicy and Service selectors match "
    "the intended pods; a LeaderWorkerSet's Service selects leaders only.",
    rationale=("A selector that matches nothing (or more than intended) protects, isolates or routes to "
               "the wrong pods, silently."),
    example=("kind: PodDisruptionBudget\n"
             "spec:\n"
             "  selector: {matchLabels: {app: lama}}   # the pods are labelled app: llama"))
def selector_coherence(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for workload in bundle.of_kind("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        selector = dig(workload, "spec", "selector")
        for template in bundle.templates_of(workload):
            if not labels_match(selector, template.labels):
                yield Violation(("spec", "selector"), "the selector does not match the pod template labels",
                                obj=workload)
    for kind, path in (("PodDisruptionBudget", ("spec", "selector")), ("NetworkPolicy", ("spec", "podSelector"))):
        for obj in bundle.of_kind(kind):
            selector = dig(obj, *path)
            if selector == {} and kind == "NetworkPolicy":
                continue
            if not bundle.templates_selected(namespace_of(obj), selector):
                yield Violation(path, f"{kind} selects no pods in the manifests", obj=obj)
    for service in bundle.of_kind("Service"):
        selector = dig(service, "spec", "selector") or {}
        workers = [obj for obj, t in bundle.templates_selected(namespace_of(service), selector) if t.role == "worker"]
        if workers:
            yield Violation(("spec", "selector"), f"Service also selects worker pods of {name_of(workers[0])}; "
                                                  "select the leader only", obj=service)
