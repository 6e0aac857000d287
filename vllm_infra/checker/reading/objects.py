"""Plain reads over Kubernetes object dicts: fields by path, names, namespaces, label selectors,
image references."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vllm_infra.vocabulary.kubernetes import DEFAULT_NAMESPACE

Manifest = Mapping[str, Any]


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """``obj[p0][p1]...`` or ``default`` when any step is missing (manifests are plain dicts and
    lists, so no ABC checks on this hot path)."""
    for part in path:
        if type(part) is int:
            if type(obj) is not list or part >= len(obj):
                return default
        elif type(obj) is not dict or part not in obj:
            return default
        obj = obj[part]
    return obj


def name_of(obj: Manifest) -> str:
    """``metadata.name``."""
    return str(dig(obj, "metadata", "name", default=""))


def namespace_of(obj: Manifest) -> str:
    """``metadata.namespace``; unset means the namespace the file is applied to, taken as
    ``default`` (so it matches other unset ones and an explicit ``default``)."""
    return str(dig(obj, "metadata", "namespace", default="") or DEFAULT_NAMESPACE)


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else nothing (a field of the wrong type holds no items)."""
    return value if type(value) is list else []


def labels_match(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """LabelSelector (matchLabels + matchExpressions) or plain map selector against labels.
    An empty or missing selector matches nothing here: rules treat it as a defect."""
    if not isinstance(selector, Mapping) or not selector:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    exact, expressions = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    if not isinstance(exact, Mapping) or not isinstance(expressions, list) or not (exact or expressions):
        return False  # malformed selectors select nothing; the schema rules report them
    if any(labels.get(k) != v for k, v in exact.items()):
        return False
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return False
        key, op, values = expr.get("key"), expr.get("operator"), as_list(expr.get("values"))
        if not isinstance(key, str):
            return False
        present = key in labels
        if (op == "In" and (not present or labels[key] not in values)) or \
                (op == "NotIn" and present and labels[key] in values) or \
                (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True



