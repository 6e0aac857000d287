"""Pulumi program for one vllm-infra stack: `pulumi up -s dev|staging|prod` from this directory."""

import pulumi

from vllm_infra.pulumi import VllmFleet, VllmFleetArgs, fleet_from_pulumi_config, kubernetes_provider

config = pulumi.Config("vllm-infra")
fleet = fleet_from_pulumi_config(config)  # `vllm-infra:fleet`, validated like `vllm-infra synth`
provider = kubernetes_provider(config)  # `vllm-infra:mode`: cluster, or gitops (renderYamlToDirectory)
deployment = VllmFleet(fleet.name, VllmFleetArgs(fleet=fleet), pulumi.ResourceOptions(provider=provider))

pulumi.export("namespace", deployment.namespace)
pulumi.export("endpoints", deployment.endpoints)
pulumi.export("max_gpus", deployment.max_gpus)
