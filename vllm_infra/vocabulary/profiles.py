"""Policy profiles as data: what each profile relaxes, which capabilities it admits, which waivers
it honours and which Pod Security levels its namespaces may enforce. The spec, the rules, the
CLI's help and the README's table read these descriptors; nothing compares profile names inline.

Pod Security facts (https://kubernetes.io/docs/concepts/security/pod-security-standards/): the
restricted level admits no added capability but NET_BIND_SERVICE; baseline admits a fixed list,
which does not hold IPC_LOCK, so a pod that needs IPC_LOCK (RDMA memory registration) is only
admitted by a namespace at the privileged level (or one that enforces none).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vllm_infra.vocabulary.reporting import Profile, Severity


class PodSecurityLevel(StrEnum):
    """Pod Security Standards level a namespace enforces (``pod-security.kubernetes.io/enforce``)."""

    RESTRICTED = "restricted"
    BASELINE = "baseline"
    PRIVILEGED = "privileged"


POD_SECURITY_LABEL_PREFIX = "pod-security.kubernetes.io/"
POD_SECURITY_MODES = ("enforce", "audit", "warn")
"""The namespace labels of Pod Security admission: ``<prefix><mode>: <level>``."""
POD_SECURITY_ENFORCE_LABEL = f"{POD_SECURITY_LABEL_PREFIX}enforce"

RDMA_CAPABILITY = "IPC_LOCK"
"""What a container needs to register (pin) memory with an RDMA NIC."""

ADDED_CAPABILITIES_ADMITTED: dict[PodSecurityLevel, frozenset[str] | None] = {
    PodSecurityLevel.RESTRICTED: frozenset({"NET_BIND_SERVICE"}),
    PodSecurityLevel.BASELINE: frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                          "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                                          "SYS_CHROOT"}),
    PodSecurityLevel.PRIVILEGED: None,
}
"""Capabilities a container may add under each level (None: any)."""


@dataclass(frozen=True)
class ProfilePolicy:
    """One policy profile."""

    profile: Profile
    summary: str
    """One line, used by ``check --help``, ``vllm-infra rules`` and the README."""
    relaxed_rules: frozenset[str] = frozenset()
    """Rules that do not apply under this profile."""
    requires_digests: bool = True
    """VI-IMG-001 asks for a digest (a release tag is enough when False); moving tags fail always."""
    added_capabilities: frozenset[str] = frozenset({"NET_BIND_SERVICE"})
    """Capabilities a container may add (VI-SEC-004)."""
    waivable: frozenset[Severity] = frozenset({Severity.HIGH, Severity.MEDIUM, Severity.LOW})
    """Severities a waiver may cover; a waiver on a finding of another severity is not applied."""
    namespace_levels: frozenset[PodSecurityLevel] = frozenset({PodSecurityLevel.RESTRICTED})
    """Pod Security levels a namespace may enforce (VI-SEC-016); empty: any level."""

    def applies(self, rule_id: str) -> bool:
        """Whether the rule runs under this profile."""
        return rule_id not in self.relaxed_rules


DISRUPTION_BUDGET_RULE = "VI-AVL-001"
REPLICATION_RULE = "VI-AVL-004"

PROFILES: dict[Profile, ProfilePolicy] = {
    Profile.RESTRICTED: ProfilePolicy(
        Profile.RESTRICTED,
        "every rule at full strength: image digests, PodDisruptionBudgets, two or more replicas, restricted Pod "
        "Security; critical findings cannot be waived"),
    Profile.DEV: ProfilePolicy(
        Profile.DEV,
        "single-replica development: no PodDisruptionBudget or second replica required, a release tag instead of "
        "a digest, any namespace Pod Security level; critical findings can be waived",
        relaxed_rules=frozenset({DISRUPTION_BUDGET_RULE, REPLICATION_RULE}), requires_digests=False,
        waivable=frozenset(Severity), namespace_levels=frozenset()),
    Profile.RDMA: ProfilePolicy(
        Profile.RDMA,
        "restricted, except that containers may add IPC_LOCK for RDMA and their namespaces then enforce the "
        "privileged Pod Security level (no lower level admits IPC_LOCK); critical findings cannot be waived",
        added_capabilities=frozenset({"NET_BIND_SERVICE", RDMA_CAPABILITY}),
        namespace_levels=frozenset({PodSecurityLevel.RESTRICTED, PodSecurityLevel.PRIVILEGED})),
}
"""Every profile, in the order the documentation lists them."""


def policy_of(profile: Profile) -> ProfilePolicy:
    """The descriptor of a profile."""
    return PROFILES[profile]
