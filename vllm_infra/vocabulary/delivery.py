"""What GitOps controllers read from objects: Argo CD sync waves and options, Flux's prune
switch, and which operator installs each custom resource kind (what a first sync must wait for)."""

from __future__ import annotations

ARGOCD_SYNC_WAVE = "argocd.argoproj.io/sync-wave"
ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_PRUNE_DISABLED = "disabled"

KEEP_ON_PRUNE = "Prune=false,Delete=false"
"""Argo CD: never prune the object, and keep it when the Application is deleted."""
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"
"""Argo CD: sync an object whose CRD an operator installs in the same sync (no dry-run failure)."""

PRUNE_PROTECTED_KINDS = frozenset({"Namespace", "PersistentVolumeClaim"})
"""Deleting these loses state (the namespace's objects, cached model weights), e.g. when a stack is
renamed: both controllers are told to leave them."""

OPERATOR_KINDS: dict[tuple[str, str], str] = {
    ("keda.sh", "ScaledObject"): "keda",
    ("keda.sh", "TriggerAuthentication"): "keda",
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): "lws",
    ("disaggregatedset.x-k8s.io", "DisaggregatedSet"): "lws",
    ("kueue.x-k8s.io", "LocalQueue"): "kueue",
    ("monitoring.coreos.com", "ServiceMonitor"): "prometheus-operator",
    ("monitoring.coreos.com", "PodMonitor"): "prometheus-operator",
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway-api",
    ("inference.networking.k8s.io", "InferencePool"): "gateway-api-inference-extension",
    ("inference.networking.x-k8s.io", "InferenceObjective"): "gateway-api-inference-extension",
}
"""Custom resource kinds the renderer emits, by (API group, kind) -> the operator whose CRDs they
need (the default name of the Flux Kustomization that installs it)."""

NAMESPACE_WAVE, BUILT_IN_WAVE, CUSTOM_RESOURCE_WAVE = "-1", "0", "1"
"""Sync waves: the Namespace first, built-in kinds next, custom resources once their CRDs exist."""

ARGOCD_API_VERSION = "argoproj.io/v1alpha1"
FLUX_KUSTOMIZATION_API_VERSION = "kustomize.toolkit.fluxcd.io/v1"
