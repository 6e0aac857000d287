"""Shared memory, model-weight cache and the Hugging Face token."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints, model_validator

from vllm_infra.spec.base import Problem, Quantity, SecretKeyRef, SecretName, SpecModel, raise_problems


class CacheType(StrEnum):
    """Where downloaded weights live."""

    EMPTY_DIR = "emptyDir"
    """Node-local scratch space, re-downloaded whenever a pod starts."""
    PVC = "pvc"
    """A PersistentVolumeClaim rendered with the service."""
    EXISTING_CLAIM = "existingClaim"
    """A PersistentVolumeClaim managed elsewhere (e.g. pre-populated)."""


class AccessMode(StrEnum):
    """PersistentVolume access modes."""

    READ_WRITE_ONCE = "ReadWriteOnce"
    READ_WRITE_ONCE_POD = "ReadWriteOncePod"
    READ_WRITE_MANY = "ReadWriteMany"
    READ_ONLY_MANY = "ReadOnlyMany"


class ModelCacheSpec(SpecModel):
    """Volume mounted as the Hugging Face cache (``HF_HOME``) and vLLM's compile cache."""

    type: CacheType = CacheType.EMPTY_DIR
    """Volume kind. Default: ``emptyDir``."""

    size: Quantity | None = None
    """emptyDir size limit or PVC request. Default: 1.25 x the model's weights (at least 20Gi), or
    100Gi when the model's size is unknown."""

    storage_class: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")] | None = None
    """StorageClass of a rendered PVC. Default: the cluster default."""

    access_mode: AccessMode = AccessMode.READ_WRITE_MANY
    """Access mode of a rendered PVC; only ReadWriteMany/ReadOnlyMany can be shared by several
    replicas. Default: ``ReadWriteMany``."""

    claim_name: SecretName | None = None
    """Existing PVC to mount when ``type`` is ``existingClaim``. Default: none."""

    claim_access_mode: AccessMode = AccessMode.READ_WRITE_MANY
    """Access mode of the existing claim, declared so sharing can be checked. Default:
    ``ReadWriteMany``."""

    offline: bool = False
    """The cache is pre-populated: set ``HF_HUB_OFFLINE=1`` and allow no download egress.
    Default: false."""

    @property
    def shared_access_mode(self) -> AccessMode | None:
        """Access mode of the persistent volume, or None for emptyDir."""
        if self.type == CacheType.PVC:
            return self.access_mode
        if self.type == CacheType.EXISTING_CLAIM:
            return self.claim_access_mode
        return None

    @model_validator(mode="after")
    def _check(self) -> ModelCacheSpec:
        problems = []
        if self.type == CacheType.EXISTING_CLAIM and self.claim_name is None:
            problems.append(Problem(("claim_name",), "type existingClaim needs 'claim_name'", None))
        if self.type != CacheType.EXISTING_CLAIM and self.claim_name is not None:
            problems.append(Problem(("claim_name",), "only used with type existingClaim", self.claim_name))
        if self.type != CacheType.PVC and self.storage_class is not None:
            problems.append(Problem(("storage_class",), "only used with type pvc", self.storage_class))
        if self.type == CacheType.EXISTING_CLAIM and self.size is not None:
            problems.append(Problem(("size",), "an existing claim is sized where it is defined", self.size))
        if self.offline and self.type == CacheType.EMPTY_DIR:
            problems.append(Problem(("offline",), "an emptyDir starts empty; offline needs a pre-populated "
                                    "claim (type existingClaim)", self.offline))
        raise_problems("ModelCacheSpec", problems)
        return self


class StorageSpec(SpecModel):
    """Volumes the vLLM container needs."""

    shm_size: Quantity | None = None
    """Size of ``/dev/shm`` (memory-backed, counted in the memory limit); NCCL needs it for
    multi-GPU. Default: 2Gi per GPU in the pod, between 2Gi and 16Gi."""

    tmp_size: Quantity = "8Gi"
    """Size of the writable ``/tmp`` (Triton/Inductor caches, Ray); the root filesystem is
    read-only. Default: 8Gi."""

    model_cache: ModelCacheSpec = ModelCacheSpec()
    """Hugging Face cache volume. Default: an emptyDir."""

    hf_token_secret: SecretKeyRef | None = None
    """Secret holding a Hugging Face token (gated models), mounted as a file that
    ``HF_TOKEN_PATH`` points to (never an environment value). Default: none."""
