"""Escape hatch: RFC 6902 JSON patches applied to rendered objects (policy still checks the result)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from vllm_infra.spec.base import Problem, SpecModel, raise_problems

JsonPointer = Annotated[str, StringConstraints(pattern=r"^(/[^/]*)+$")]


class JsonPatchOperation(SpecModel):
    """One RFC 6902 operation."""

    model_config = ConfigDict(populate_by_name=True)

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    """Operation. Required."""

    path: JsonPointer
    """JSON pointer into the object, e.g. ``/spec/template/spec/hostAliases``. Required."""

    value: Any = None
    """Value for add, replace and test. Default: none."""

    from_: JsonPointer | None = Field(default=None, alias="from")
    """Source pointer for move and copy (written ``from``). Default: none."""

    @model_validator(mode="after")
    def _check(self) -> JsonPatchOperation:
        problems = []
        if self.op in ("add", "replace", "test") and "value" not in self.model_fields_set:
            problems.append(Problem(("value",), f"op '{self.op}' needs a value", None))
        if self.op in ("move", "copy") and self.from_ is None:
            problems.append(Problem(("from",), f"op '{self.op}' needs 'from'", None))
        raise_problems("JsonPatchOperation", problems)
        return self


class ObjectPatch(SpecModel):
    """Patches for one rendered object of this service."""

    kind: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")]
    """Kind of the target object, e.g. ``Deployment``. Required."""

    name: str | None = None
    """Name of the target object. Default: the service's name."""

    operations: list[JsonPatchOperation] = Field(min_length=1)
    """Operations applied in order. Required."""
