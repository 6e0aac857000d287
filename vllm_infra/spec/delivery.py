"""How a stack reaches its cluster: `pulumi up` (the stacks/ program), or a GitOps controller
reading the synthesized tree (Argo CD or Flux). One tool per stack, so two never manage the same
objects."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from vllm_infra.spec.base import DnsLabel, Problem, SpecModel, raise_problems


class DeliveryTool(StrEnum):
    """What applies the stack's objects."""

    PULUMI = "pulumi"
    """`pulumi up` from stacks/ (the deploy workflow); no GitOps objects are rendered."""
    ARGOCD = "argocd"
    """Argo CD: synth writes an ApplicationSet; the Pulumi program refuses the stack."""
    FLUX = "flux"
    """Flux: synth writes a Kustomization; the Pulumi program refuses the stack."""


class DeliverySpec(SpecModel):
    """The stack's delivery tool and what its controller needs to find the tree."""

    tool: DeliveryTool = DeliveryTool.PULUMI
    """``pulumi``, ``argocd`` or ``flux``. Default: ``pulumi``."""

    repository: str | None = Field(default=None, pattern=r"^(https://|ssh://|git@)[^\s]+$")
    """Git URL the controller reads (Argo CD's ``repoURL``). Default: none (``argocd`` needs one)."""

    revision: str = Field(default="main", pattern=r"^[\w./-]+$")
    """Branch, tag or commit to follow. Default: ``main``."""

    path: str | None = Field(default=None, pattern=r"^[\w.-]+(/[\w.-]+)*$")
    """The stack's directory in the repository. Default: ``manifests/<stack>``."""

    automated: bool = False
    """Argo CD: sync on every change (with prune and self-heal) instead of on request. Flux always
    reconciles. Default: false."""

    controller_namespace: DnsLabel | None = None
    """Namespace of the ApplicationSet or Kustomization. Default: ``argocd`` or ``flux-system``."""

    project: DnsLabel = "default"
    """Argo CD project. Default: ``default``."""

    source: DnsLabel = "flux-system"
    """Flux GitRepository holding the tree (in the controller namespace). Default: ``flux-system``."""

    operators: dict[str, DnsLabel] = Field(default_factory=dict)
    """Flux: the Kustomizations that install each operator's CRDs, by operator (``keda``, ``lws``,
    ``kueue``, ``prometheus-operator``, ``gateway-api``, ``gateway-api-inference-extension``), which the
    stack's Kustomization depends on. Default: the operator's name."""

    @model_validator(mode="after")
    def _check(self) -> DeliverySpec:
        if self.tool == DeliveryTool.ARGOCD and self.repository is None:
            raise_problems("DeliverySpec", [Problem(("repository",), "Argo CD needs the repository URL to read the "
                                                    "tree from", None)])
        return self
