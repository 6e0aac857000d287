"""Deterministic YAML for Kubernetes objects.

Output is stable byte for byte: keys sorted, block style, no line folding, and strings that any
YAML 1.1 reader (kubectl, go-yaml, PyYAML) would turn into booleans, numbers or null are quoted.

ruamel.yaml defines the output. Writing YAML dominates synthesis time at fleet scale, so ``dump``
first tries a direct block emitter for the shapes manifests are made of (nested mappings and
sequences of plain scalars) and hands anything else, such as multi-line strings or long keys, to
ruamel.yaml; property tests keep the two byte-identical.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import SafeRepresenter

_YAML11_NON_STRING = re.compile(
    r"""^(?:[yYnN~]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |null|Null|NULL|<<|=
    |[-+]?(?:0b[01_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)
    |[-+]?(?:[0-9][0-9_]*)?\.[0-9._]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)


class _KubeRepresenter(SafeRepresenter):
    """Safe representer that quotes YAML 1.1 look-alikes (``yes``, ``on``, ``0777``, ``1e3``) and
    writes shared sub-objects out in full: manifests are read by people and by tools that treat
    ``&id001`` anchors poorly."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_str(self, data: str) -> Any:
        if _YAML11_NON_STRING.match(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_KubeRepresenter.add_representer(str, _KubeRepresenter.represent_str)


def _dumper() -> YAML:
    yaml = YAML(typ="safe")
    yaml.Representer = _KubeRepresenter
    yaml.default_flow_style = False
    yaml.width = 1_000_000
    yaml.allow_unicode = True
    return yaml


def _reference_dump(obj: Any) -> str:
    buffer = io.StringIO()
    _dumper().dump(obj, buffer)
    return buffer.getvalue()


class _NeedsReference(Exception):
    """The direct emitter met a value whose layout only ruamel.yaml decides."""


_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = _dumper().resolver
_MAX_SIMPLE_KEY_LENGTH = 128  # ruamel.yaml writes longer keys in explicit ``? key`` form
# Characters that never need quoting anywhere in a plain scalar (no indicators, spaces or '#').
_PLAIN_CANDIDATE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./=@+:-]*")


@lru_cache(maxsize=1 << 16)
def _string_scalar(value: str) -> str:
    """A string as ruamel.yaml writes it after ``key: `` (plain when it reads back as a string)."""
    if (_PLAIN_CANDIDATE.fullmatch(value) and not value.endswith(":")
            and not _YAML11_NON_STRING.match(value)
            and _RESOLVER.resolve(ScalarNode, value, (True, False)) == _STR_TAG):
        return value
    return _inline_scalar(value)


def _inline_scalar(value: Any) -> str:
    text = _reference_dump({"k": value})
    if len(text.splitlines()) != 1:  # splitlines also breaks at NEL, LS and PS, as YAML does
        raise _NeedsReference
    return text[3:-1]


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string_scalar(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    return _inline_scalar(value)


def _key(key: Any) -> str:
    """Plain keys only: ruamel.yaml's choice between simple and explicit (``? key``) form for
    quoted keys depends on line breaks and length after escaping."""
    if type(key) is not str or len(key) >= _MAX_SIMPLE_KEY_LENGTH or _string_scalar(key) != key:
        raise _NeedsReference
    return key


def _sorted_keys(mapping: dict[Any, Any]) -> list[Any]:
    """Keys in output order; keys of mixed types (``{1: a, b: c}``) have no order of their own, so
    ruamel.yaml decides how to write them."""
    try:
        return sorted(mapping)
    except TypeError:
        raise _NeedsReference from None


def _emit_mapping(mapping: dict[Any, Any], lines: list[str], indent: int) -> None:
    pad = " " * indent
    for key in _sorted_keys(mapping):
        value = mapping[key]
        kind = type(value)
        if kind is dict or kind is list:
            if not value:
                lines.append(f"{pad}{_key(key)}: {'{}' if kind is dict else '[]'}\n")
                continue
            lines.append(f"{pad}{_key(key)}:\n")
            if kind is dict:
                _emit_mapping(value, lines, indent + 2)
            else:
                _emit_sequence(value, lines, indent)
        else:
            lines.append(f"{pad}{_key(key)}: {_scalar(value)}\n")


def _emit_sequence(items: list[Any], lines: list[str], indent: int) -> None:
    """Items at the parent key's indentation (``key:\\n- item``), as ruamel.yaml writes them."""
    pad = " " * indent
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and item:
            start = len(lines)
            if kind is dict:
                _emit_mapping(item, lines, indent + 2)
            else:
                _emit_sequence(item, lines, indent + 2)
            lines[start] = f"{pad}- {lines[start][indent + 2:]}"
        elif kind is dict:
            lines.append(f"{pad}- {{}}\n")
        elif kind is list:
            lines.append(f"{pad}- []\n")
        else:
            lines.append(f"{pad}- {_scalar(item)}\n")


def dump(obj: Any) -> str:
    """One document as YAML text."""
    if type(obj) is dict and obj:
        lines: list[str] = []
        try:
            _emit_mapping(obj, lines, 0)
        except _NeedsReference:
            return _reference_dump(obj)
        return "".join(lines)
    return _reference_dump(obj)


def dump_all(objects: Iterable[Any]) -> str:
    """Several documents, each starting with ``---``."""
    return "".join(f"---\n{dump(obj)}" for obj in objects)
