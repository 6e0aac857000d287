"""Kueue admission: the LocalQueue a fleet's serving workloads are admitted through, and the
ClusterQueue behind it."""

from __future__ import annotations

from vllm_infra.spec.base import DnsLabel, SecretName, SpecModel


class QueueSpec(SpecModel):
    """The LocalQueue every serving workload of the fleet is labelled with
    (``kueue.x-k8s.io/queue-name``); Kueue admits each pod (a LeaderWorkerSet group as one) only
    while the ClusterQueue has GPU quota for it."""

    name: DnsLabel
    """LocalQueue name (a label value). Required."""

    cluster_queue: SecretName
    """The ClusterQueue the LocalQueue points to (``spec.clusterQueue``), which the platform team
    manages. Required."""

    create: bool = True
    """Render the LocalQueue in the fleet's namespace. Default: true (false when it is managed
    elsewhere)."""
