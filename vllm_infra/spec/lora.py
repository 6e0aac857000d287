"""LoRA adapters served beside the base model: fetched at their pinned revisions before vLLM starts
and loaded with it (``--lora-modules``), or loaded by clients at runtime; the slots they need on
every GPU and in host memory are part of the memory fit."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from vllm_infra.catalog.huggingface import REPOSITORY_ID_PATTERN, is_commit_hash
from vllm_infra.spec.base import Int32, Problem, SpecModel, raise_problems

AdapterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][\w.:/-]*$", max_length=200)]


class LoraAdapterSpec(SpecModel):
    """One adapter loaded at start."""

    name: AdapterName
    """Name clients pass as ``model`` to use it. Required."""

    source: Annotated[str, StringConstraints(pattern=REPOSITORY_ID_PATTERN, max_length=200)]
    """Hugging Face repository of the adapter. Required."""

    revision: str
    """Full 40-character commit hash of the adapter repository. Required."""

    rank: Int32 = Field(gt=0, le=512)
    """The adapter's ``r`` (its ``adapter_config.json``): at most ``max_lora_rank``. Required."""

    @field_validator("revision")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not is_commit_hash(value):
            raise ValueError("must be a full 40-character commit hash of the adapter repository")
        return value


class LoraSpec(SpecModel):
    """Adapters and the slots vLLM keeps for them."""

    adapters: list[LoraAdapterSpec] = Field(default_factory=list)
    """Adapters fetched into the model cache before vLLM starts, and loaded with it. Default: none."""

    max_loras: Int32 = Field(default=1, gt=0)
    """Adapters one batch can mix: GPU slots on every GPU (``--max-loras``). Default: 1."""

    max_lora_rank: Int32 | None = Field(default=None, gt=0)
    """Rank of every slot (``--max-lora-rank``), one of the values the release accepts. Default:
    the smallest accepted value that holds the largest adapter's rank (16 without adapters)."""

    max_cpu_loras: Int32 | None = Field(default=None, gt=0)
    """Adapters kept in host memory (``--max-cpu-loras``), at least ``max_loras``. Default: vLLM's
    (``max_loras``)."""

    runtime_loading: bool = False
    """Let API clients load and unload adapters (``VLLM_ALLOW_RUNTIME_LORA_UPDATING``): any client
    that reaches the API can then load an adapter from a repository or path of its choice. Needs
    ``runtime_loading_reason``. Default: false."""

    runtime_loading_reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                             max_length=500)] | None = None
    """Why clients may load adapters; rendered as the waiver of VI-LORA-001 on the workload.
    Default: none (required with ``runtime_loading``)."""

    @model_validator(mode="after")
    def _check(self) -> LoraSpec:
        problems = []
        names = [adapter.name for adapter in self.adapters]
        for index, name in enumerate(names):
            if name in names[:index]:
                problems.append(Problem(("adapters", index, "name"), f"adapter {name} is listed twice: vLLM refuses "
                                        "to load an adapter name again and stops at start", name))
        if self.max_cpu_loras is not None and self.max_cpu_loras < self.max_loras:
            problems.append(Problem(("max_cpu_loras",), f"must be at least max_loras ({self.max_loras}): vLLM refuses "
                                    "fewer host slots than GPU slots", self.max_cpu_loras))
        if not self.adapters and not self.runtime_loading:
            problems.append(Problem(("adapters",), "list the adapters to load, or allow runtime_loading", None))
        if self.runtime_loading != (self.runtime_loading_reason is not None):
            problems.append(Problem(("runtime_loading_reason",), "say why API clients may load adapters (reviewers see "
                                    "it as the VI-LORA-001 waiver)" if self.runtime_loading else
                                    "only used with runtime_loading: true", self.runtime_loading_reason))
        raise_problems("LoraSpec", problems)
        return self

    @property
    def largest_rank(self) -> int:
        """The largest adapter rank (0 without adapters)."""
        return max((adapter.rank for adapter in self.adapters), default=0)
