"""Steps of a stack program (see ``stacks/__main__.py``): read the fleet from config, pick the provider."""

from __future__ import annotations

from enum import StrEnum

import pulumi
import pulumi_kubernetes as k8s

from vllm_infra.outputs.stack_config import FLEET_KEY, PROJECT, StackConfigError, fleet_from_config
from vllm_infra.spec.delivery import DeliveryTool
from vllm_infra.spec.fleet import FleetSpec


class DeployMode(StrEnum):
    """Where ``pulumi up`` sends the objects (config key ``vllm-infra:mode``)."""

    CLUSTER = "cluster"
    """Apply to the cluster named by ``vllm-infra:kubeconfig`` / ``vllm-infra:context``."""
    GITOPS = "gitops"
    """Write YAML to ``vllm-infra:renderDir`` (provider ``renderYamlToDirectory``); touch no cluster."""


def fleet_from_pulumi_config(config: pulumi.Config) -> FleetSpec:
    """Read ``vllm-infra:fleet`` once and validate it with the same models as the CLI; every
    problem is listed in one ``pulumi.RunError`` (printed without a traceback). A stack that Argo CD
    or Flux delivers is refused in cluster mode, so two tools never manage the same objects."""
    raw = config.get_object("fleet")
    source = f"Pulumi.{pulumi.get_stack()}.yaml {FLEET_KEY}"
    if raw is None:
        raise pulumi.RunError(f"{source}: missing; set the fleet under 'config: {FLEET_KEY}:'")
    try:
        fleet = fleet_from_config(raw, source)
    except StackConfigError as exc:
        count = len(exc.problems)
        lines = "\n".join(f"  {problem.path or '(fleet)'}: {problem.message}"
                          + (f" (got {problem.value})" if problem.value is not None else "")
                          for problem in exc.problems)
        raise pulumi.RunError(f"{source}: {count} problem{'s' if count != 1 else ''}:\n{lines}") from None
    tool = fleet.delivery.tool
    if tool != DeliveryTool.PULUMI and (config.get("mode") or DeployMode.CLUSTER.value) == DeployMode.CLUSTER.value:
        raise pulumi.RunError(f"{source}: delivery.tool is {tool.value}, which applies this stack's objects; "
                              f"`pulumi up` in cluster mode would manage the same objects. Use {PROJECT}:mode "
                              "gitops, or delivery.tool pulumi")
    return fleet


def kubernetes_provider(config: pulumi.Config) -> k8s.Provider:
    """Explicit Kubernetes provider for the configured mode."""
    mode_text = config.get("mode") or DeployMode.CLUSTER.value
    try:
        mode = DeployMode(mode_text)
    except ValueError:
        choices = ", ".join(m.value for m in DeployMode)
        raise pulumi.RunError(f"{PROJECT}:mode must be one of {choices} (got {mode_text!r})") from None
    if mode == DeployMode.GITOPS:
        directory = config.get("renderDir") or f"rendered/{pulumi.get_stack()}"
        return k8s.Provider("gitops", render_yaml_to_directory=directory)
    kubeconfig = config.get_secret("kubeconfig")
    return k8s.Provider("cluster", context=config.get("context") or None,
                        kubeconfig=kubeconfig.apply(lambda value: value or None) if kubeconfig else None)
