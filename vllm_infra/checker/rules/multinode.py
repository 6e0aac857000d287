"""Multi-node serving with LeaderWorkerSet."""

from __future__ import annotations

from collections.abc import Iterator

from vllm_infra.checker.reading.accelerators import gpu_count
from vllm_infra.checker.reading.objects import Manifest, dig
from vllm_infra.checker.reading.server import serving_container
from vllm_infra.checker.reading.templates import pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.reporting import Severity


@resource_rule(
    "VI-MN-001", Severity.HIGH, "LeaderWorkerSet groups restart together and leader/worker templates agree",
    "Set restartPolicy: RecreateGroupOnPodRestart and size >= 2, keep startupPolicy LeaderCreated, and give "
    "leader and worker the same image, GPU count and /dev/shm mount.", kinds={"LeaderWorkerSet"}, gpu=True,
    rationale=("A multi-node group whose pods restart alone cannot rejoin its NCCL or Ray group, and "
               "leader and worker templates that differ run different engines."),
    example="kind: LeaderWorkerSet\nspec:\n  leaderWorkerTemplate: {restartPolicy: None}")
def group_consistency(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    template = dig(obj, "spec", "leaderWorkerTemplate", default={}) or {}
    base = ("spec", "leaderWorkerTemplate")
    if template.get("restartPolicy") != "RecreateGroupOnPodRestart":
        yield Violation((*base, "restartPolicy"), "restartPolicy is not RecreateGroupOnPodRestart: a restarted pod "
                                                  "cannot rejoin its NCCL/Ray group")
    if int(template.get("size", 1)) < 2:
        yield Violation((*base, "size"), "size < 2: a single-pod group does not need a LeaderWorkerSet")
    if dig(obj, "spec", "startupPolicy") == "LeaderReady":
        yield Violation(("spec", "startupPolicy"), "startupPolicy LeaderReady deadlocks: the vLLM leader only "
                                                   "becomes ready after its workers joined")
    roles = {t.role: t for t in pod_templates(obj)}
    leader, worker = roles.get("leader"), roles.get("worker")
    if leader is None or worker is None:
        return
    refs = {role: serving_container(t) or (None) for role, t in roles.items()}
    lead, work = refs.get("leader"), refs.get("worker")
    if lead is None or work is None:
        return
    if lead.spec.get("image") != work.spec.get("image"):
        yield Violation((*work.path, "image"), "worker image differs from the leader image")
    if gpu_count(lead.spec) != gpu_count(work.spec):
        yield Violation((*work.path, "resources"), f"worker has {gpu_count(work.spec)} GPUs, leader "
                                                   f"{gpu_count(lead.spec)}")
    for role, ref in (("leader", lead), ("worker", work)):
        if not any(m.get("mountPath") == "/dev/shm" for m in ref.spec.get("volumeMounts") or []):
            yield Violation((*ref.path, "volumeMounts"), f"{role} does not mount /dev/shm")
