"""Deterministic YAML for Kubernetes objects (ruamel.yaml, with its C emitter when available).

Output is stable byte for byte: keys sorted, block style, no line folding, and strings that any
YAML 1.1 reader (kubectl, go-yaml, PyYAML) would turn into booleans, numbers or null are quoted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML
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
    """Safe representer that quotes YAML 1.1 look-alikes (``yes``, ``on``, ``0777``, ``1e3``)."""

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


def dump(obj: Any) -> str:
    """One document as YAML text."""
    buffer = io.StringIO()
    _dumper().dump(obj, buffer)
    return buffer.getvalue()


def dump_all(objects: Iterable[Any]) -> str:
    """Several documents, each starting with ``---``."""
    return "".join(f"---\n{dump(obj)}" for obj in objects)
