"""Manifest hygiene: API versions, namespaces and labels, bare pods, duplicates, deploy-tool budgets."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from vllm_infra.checker.reading.objects import Manifest, as_list, dig
from vllm_infra.checker.reading.probes import start_seconds
from vllm_infra.checker.reading.server import engine_args
from vllm_infra.checker.reading.templates import containers, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PULUMI_ANNOTATION_PREFIX,
    PULUMI_SKIP_AWAIT_ANNOTATION,
    PULUMI_TIMEOUT_ANNOTATION,
    SERVING_KINDS,
    WORKLOAD_KINDS,
)
from vllm_infra.vocabulary.reporting import Severity

BUILT_IN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling", "extensions"})
"""Kubernetes' own API groups without a ``.k8s.io`` suffix (those with one are Kubernetes' too)."""
_PRE_GA = re.compile(r"^v\d+(alpha|beta)\d*$")


CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass",
                            "CustomResourceDefinition", "PersistentVolume", "RuntimeClass"})
RECOMMENDED_LABELS = ("name", "instance", "version", "component", "part-of", "managed-by")


@resource_rule(
    "VI-SCH-002", Severity.HIGH, "Kubernetes' own APIs at GA versions",
    "Use the GA version of the Kubernetes API (apps/v1, policy/v1, autoscaling/v2, resource.k8s.io/v1 ...); "
    "an operator's own API versions are its project's to retire.",
    rationale=("Alpha and beta versions of Kubernetes' APIs are removed in later releases, and manifests that "
               "use them stop applying (whether a version exists at all is the schema rule's to say)."),
    example="apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler")
def stable_api_versions(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    if (group in BUILT_IN_GROUPS or group.endswith(".k8s.io")) and _PRE_GA.match(version):
        yield Violation(("apiVersion",), f"apiVersion {obj.get('apiVersion')} is a pre-GA version of a Kubernetes "
                                         "API: later releases remove it")


@resource_rule(
    "VI-SCH-003", Severity.MEDIUM, "Explicit namespace and recommended labels (instance == workload name)",
    "Set metadata.namespace (not default) and the app.kubernetes.io/{name,instance,version,component,part-of,"
    "managed-by} labels.",
    rationale=("Without an explicit namespace an object lands wherever it is applied; without the "
               "recommended labels, tools and people cannot tell which model and release it belongs to."),
    example="metadata: {name: llama}   # no namespace, no app.kubernetes.io labels")
def namespace_and_labels(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    kind = obj.get("kind")
    namespace = dig(obj, "metadata", "namespace")
    if kind not in CLUSTER_SCOPED and namespace in (None, "", "default"):
        yield Violation(("metadata", "namespace"), "no explicit, non-default namespace")
    if kind in CLUSTER_SCOPED:
        return
    labels = dig(obj, "metadata", "labels", default={}) or {}
    missing = [label for label in RECOMMENDED_LABELS if f"app.kubernetes.io/{label}" not in labels]
    if missing:
        yield Violation(("metadata", "labels"), "missing labels " + ", ".join(f"app.kubernetes.io/{m}"
                                                                              for m in missing))
    if kind in SERVING_KINDS and labels.get(MANAGED_BY_LABEL) == MANAGED_BY and \
            labels.get("app.kubernetes.io/instance") not in (None, dig(obj, "metadata", "name")):
        yield Violation(("metadata", "labels", "app.kubernetes.io/instance"),
                        "app.kubernetes.io/instance differs from the workload name")


@resource_rule(
    "VI-SCH-004", Severity.HIGH, "No bare Pods", "Run model servers through a Deployment, StatefulSet or "
    "LeaderWorkerSet.", kinds={"Pod"},
    rationale="A bare Pod is not recreated when its node fails, and cannot be rolled out or scaled.",
    example="kind: Pod\nspec: {containers: [{name: vllm, image: vllm/vllm-openai:v0.11.0}]}")
def no_bare_pods(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    yield Violation(("kind",), "a bare Pod is never rescheduled, drained gracefully or rolled out")


@resource_rule(
    "VI-SCH-005", Severity.LOW, "No duplicate env var or container port names",
    "Remove duplicates; the last value silently wins.", kinds=WORKLOAD_KINDS,
    rationale="A name given twice keeps the last value: what a reviewer reads first is not what runs.",
    example="env: [{name: HF_HOME, value: /cache}, {name: HF_HOME, value: /tmp}]")
def no_duplicates(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            for key, field in (("env", "name"), ("ports", "name")):
                counts = Counter(item.get(field) for item in ref.spec.get(key) or [] if item.get(field))
                for name, count in sorted(counts.items()):
                    if count > 1:
                        yield Violation((*ref.path, key), f"{key} name {name!r} appears {count} times")


def _managed_by_pulumi(obj: Manifest, ctx: RuleContext) -> bool:
    """Pulumi registers it (CrossGuard), or it carries Pulumi's marks; kubectl, Helm and Argo CD
    never await a rollout, so the budget means nothing to them."""
    annotations = dig(obj, "metadata", "annotations", default={}) or {}
    return ctx.pulumi or any(str(key).startswith(PULUMI_ANNOTATION_PREFIX) for key in annotations) or \
        str(dig(obj, "metadata", "labels", MANAGED_BY_LABEL, default="")).lower() == "pulumi"


@resource_rule(
    "VI-PUL-001", Severity.HIGH, "The Pulumi await budget covers image pull and model start-up",
    "Set pulumi.com/timeoutSeconds (or customTimeouts) >= startup probe budget + image pull time; never "
    "pulumi.com/skipAwait on a serving workload.", kinds=SERVING_KINDS, gpu=True,
    rationale=("Pulumi's default await is 10 minutes: a model that loads for longer fails the deployment "
               "that would have succeeded."),
    example=("metadata:\n"
             "  annotations: {pulumi.com/timeoutSeconds: \"600\"}   # the startup budget is 1,800 s"))
def await_budget(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if not _managed_by_pulumi(obj, ctx):
        return
    annotations = dig(obj, "metadata", "annotations", default={}) or {}
    if str(annotations.get(PULUMI_SKIP_AWAIT_ANNOTATION, "")).lower() == "true":
        yield Violation(("metadata", "annotations", PULUMI_SKIP_AWAIT_ANNOTATION), "skipAwait hides failed rollouts")
    startup = start_seconds(obj, ctx.default_load_budget)
    needed = startup + ctx.image_pull_allowance
    budget = int(annotations.get(PULUMI_TIMEOUT_ANNOTATION, 600))
    if budget < needed:
        yield Violation(("metadata", "annotations"), f"await budget {budget}s < {needed}s (startup {startup}s + "
                                                     f"image pull {ctx.image_pull_allowance}s)")


_SHELL_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


@resource_rule(
    "VI-ENV-001", Severity.HIGH, "Environment values and exec-form arguments reference variables as $(VAR)",
    "Write $(VAR) (Kubernetes expands it from earlier env entries); ${VAR} is only expanded by a shell, so "
    "here it is passed literally.", kinds=WORKLOAD_KINDS,
    rationale=("Kubernetes expands $(VAR) in command, args and env; ${VAR} outside a shell reaches vLLM "
               "literally."),
    example="args: [--served-model-name, \"${MODEL_NAME}\"]   # not run by a shell")
def kubernetes_references(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            for index, entry in enumerate(as_list(ref.spec.get("env"))):
                value = entry.get("value") if type(entry) is dict else None
                if type(value) is str and "${" in value and (found := _SHELL_REFERENCE.search(value)):
                    yield Violation((*ref.path, "env", index, "value"),
                                    f"env {entry.get('name')}={value!r}: Kubernetes expands only $(VAR), so "
                                    f"{found.group()} is passed literally")
            literal = [(key, index, token, found) for key in ("command", "args")
                       for index, token in enumerate(as_list(ref.spec.get(key)))
                       if type(token) is str and "${" in token and (found := _SHELL_REFERENCE.search(token))]
            if literal and not engine_args(ref.spec).shell:  # a shell expands ${VAR} itself
                for key, index, token, found in literal:
                    yield Violation((*ref.path, key, index), f"{key}[{index}] {token!r}: without a shell "
                                                             f"{found.group()} is passed literally; use $(VAR)")
