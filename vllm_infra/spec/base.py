"""Shared building blocks for spec models: strict base class, wire-safe scalar types, problem lists."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from vllm_infra.vocabulary.kubernetes import INT32_MAX
from vllm_infra.vocabulary.units import parse_duration, parse_quantity


class SpecModel(BaseModel):
    """Base for every spec model: unknown keys are errors, instances are immutable.

    Field documentation lives in attribute docstrings, so ``Model.model_fields[...].description``
    and the generated reference carry the same text (including the documented default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One cross-field violation, located relative to the model that found it."""

    loc: Loc
    message: str
    value: object


def raise_problems(title: str, problems: Iterable[Problem]) -> None:
    """Raise every problem at once as a pydantic ValidationError, so callers list them all."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("invalid_combination", "{message}", {"message": problem.message}),
            loc=problem.loc,
            input=problem.value,
        )
        for problem in problems
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)


def without_union_tags(exc: ValidationError, title: str, field: str, tags: Iterable[str]) -> ValidationError:
    """``exc`` with the tag pydantic adds after a tagged-union ``field`` removed from every location
    (``autoscaling.keda.prometheus_url`` -> ``autoscaling.prometheus_url``): users never write it."""
    hidden = frozenset(tags)
    details = []
    for error in exc.errors():
        loc = error["loc"]
        kept = tuple(part for index, part in enumerate(loc)
                     if not (index and loc[index - 1] == field and part in hidden))
        details.append(InitErrorDetails(type=PydanticCustomError(error["type"], error["msg"]), loc=kept,
                                        input=error.get("input")))
    return ValidationError.from_exception_data(title, details)


def _to_text(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


MAX_QUANTITY = 2**63 - 1
"""The API server stores quantities as int64 (milli-units for CPU): larger ones are refused."""


def _check_quantity(value: str) -> str:
    amount = parse_quantity(value)
    if not math.isfinite(amount) or amount <= 0:
        raise ValueError("must be a positive quantity such as 16Gi or 500m")
    if amount * 1000 > MAX_QUANTITY:
        raise ValueError("is larger than a Kubernetes quantity can be")
    return value


def _check_duration(value: object) -> int:
    if isinstance(value, str | int) and not isinstance(value, bool):
        seconds = parse_duration(value)
        if seconds > INT32_MAX:
            raise ValueError(f"is longer than Kubernetes allows ({INT32_MAX} seconds)")
        return seconds
    raise ValueError(f"{value!r} is not a duration (examples: 90s, 10m, 1h30m)")


def _int32(value: int) -> int:
    if value > INT32_MAX:
        raise PydanticCustomError("less_than_equal", "Input should be less than or equal to {le}", {"le": INT32_MAX})
    return value


Int32 = Annotated[int, AfterValidator(_int32)]
"""An integer the API server stores as int32 (replicas, probe fields, ports, IDs). A validator, not
a ``Field(le=...)``: pydantic lets an annotated constraint replace the field's own (a port's
``le=65535`` would have become 2**31 - 1)."""


Quantity = Annotated[str, BeforeValidator(_to_text), AfterValidator(_check_quantity)]
"""A Kubernetes quantity such as ``16Gi`` or ``500m``; bare numbers are accepted."""

Seconds = Annotated[int, BeforeValidator(_check_duration)]
"""A duration written as ``90s``, ``10m``, ``1h30m`` or a number of seconds; stored as seconds."""

DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
"""An RFC 1035 label: lower-case alphanumerics and '-', starting with a letter."""

LabelValue = Annotated[
    str, StringConstraints(pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", max_length=63)
]
"""A Kubernetes label value."""

QualifiedName = Annotated[
    str,
    StringConstraints(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        max_length=316,
    ),
]
"""A label or annotation key such as ``app.kubernetes.io/name``."""

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
"""An environment variable name."""


SecretName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                           max_length=253)
]
"""A Kubernetes object name (RFC 1123 subdomain)."""


class SecretKeyRef(SpecModel):
    """A key inside an existing Kubernetes Secret. Secret values never appear in a spec."""

    name: SecretName
    """Secret name. Required."""

    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$")] = "token"
    """Key inside the Secret. Default: ``token``."""
