"""A container's environment as Kubernetes builds it, and Kubernetes' ``$(VAR)`` expansion."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vllm_infra.checker.reading.objects import as_list
from vllm_infra.checker.reading.views import view

_VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_references(text: str, values: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command, args and env values: a defined variable is
    replaced, ``$$`` is a literal ``$``, anything else stays as written."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return values.get(match.group(1), match.group(0))
    return _VARIABLE_REFERENCE.sub(replace, text) if "$" in text else text


def env_entries(container: Mapping[str, Any]) -> Mapping[str, tuple[int, Mapping[str, Any]]]:
    """Environment variables by name -> (index, entry); later duplicates win, as in Kubernetes.
    Shared by the rules of one pass (read-only)."""
    return view("env_entries", container, _env_entries)


def _env_entries(container: Mapping[str, Any]) -> dict[str, tuple[int, Mapping[str, Any]]]:
    return {str(item.get("name")): (index, item) for index, item in enumerate(as_list(container.get("env")))
            if isinstance(item, Mapping)}


def env_values(container: Mapping[str, Any]) -> Mapping[str, str]:
    """Literal environment values by name (read-only, shared like ``env_entries``)."""
    return view("env_values", container, _env_values)


def _env_values(container: Mapping[str, Any]) -> dict[str, str]:
    """In list order, as the kubelet builds it: each value's ``$(VAR)`` expanded with the variables
    before it; a later ``valueFrom`` of the same name leaves the value unknown."""
    values: dict[str, str] = {}
    for item in as_list(container.get("env")):
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("name"))
        if "value" in item:
            values[name] = expand_references(str(item["value"]), values)
        else:
            values.pop(name, None)
    return values

