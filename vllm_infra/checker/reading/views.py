"""Per-object views computed once per check: pod templates, vLLM containers and engine flags are
read by many rules, and reading them again for each would cost more than some rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

_T = TypeVar("_T")


_VIEWS: ContextVar[dict[tuple[str, int], tuple[Any, Any]] | None] = ContextVar("vllm_infra_object_views",
                                                                              default=None)


@contextmanager
def shared_views() -> Iterator[None]:
    """Within the block, per-object views (pod templates, vLLM containers, engine flags) are
    computed once per object instead of once per rule. Entries are keyed by object id and hold the
    object, so an id cannot be reused while the block runs; objects must not change inside it."""
    token = _VIEWS.set({})
    try:
        yield
    finally:
        _VIEWS.reset(token)


def view(name: str, obj: Mapping[str, Any], compute: Callable[[Any], _T]) -> _T:
    """``compute(obj)``, once per object inside ``shared_views`` (every time outside it)."""
    views = _VIEWS.get()
    if views is None:
        return compute(obj)
    key = (name, id(obj))
    if key not in views:
        views[key] = (obj, compute(obj))
    value: _T = views[key][1]
    return value

