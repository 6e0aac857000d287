"""The fast YAML 1.2 reader for stack files returns exactly what ruamel.yaml's safe loader returns
(types included), or None; it never accepts what ruamel.yaml rejects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tests.conftest import STACKS_DIR
from vllm_infra.serialization import yaml12

TRICKY = ["true", "True", "TRUE", "false", "yes", "no", "on", "off", "y", "n", "~", "null", "Null", "NULL", "",
          "1", "-1", "+1", "-0", "012", "0o17", "0x1F", "0b101", "1_000", "1__0", "1e3", "1E3", "1e+3", "0e0",
          ".5", "-.5", "+.5", ".5e3", "1.", "1.e3", "01.5", "0.", "4.0", "1_0.5", ".inf", "-.inf", ".nan",
          "2024-01-01", "2024-01-01T10:00:00Z", "2001-12-14 21:59:43.10 -5", "1:20", "=", "<<", "8Gi", "15m",
          "v0.11.0", "sha256:ab", "a b", "a: b", "#x", "x #y", "@x", "`x", "%x", "!x", "&x", "*x", "-", "- x",
          "?", "? x", "[a]", "{a: 1}", "'q'", '"q"', "a'b", 'a"b', "é", "\\", "9" * 25, "1.0e+999"]


def _scalar(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TRICKY) | st.text(alphabet="ab01._:+-~ e", max_size=6))
    style = draw(st.sampled_from(["plain", "plain", "single", "double"]))
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        key = _scalar(draw)
        shape = draw(st.sampled_from(["scalar", "scalar", "list", "map"] if depth < 2 else ["scalar"]))
        if shape == "scalar":
            lines.append(f"{key}: {_scalar(draw)}")
        elif shape == "list":
            lines.append(f"{key}:")
            lines += [f"  - {_scalar(draw)}" for _ in range(draw(st.integers(1, 3)))]
        else:
            lines.append(f"{key}:")
            lines += ["  " + line for line in draw(documents(depth + 1)).splitlines()]
    return "\n".join(lines) + "\n"


def typed(value: Any) -> Any:
    """Values with their types, so that True, 1 and 1.0 differ."""
    if isinstance(value, dict):
        return ("dict", sorted(((typed(k), typed(v)) for k, v in value.items()), key=repr))
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, repr(value))


@given(documents())
def test_fast_reading_is_ruamel_reading_or_nothing(text: str) -> None:
    fast = yaml12.read(text)
    try:
        reference = YAML(typ="safe").load(text)
    except (YAMLError, ValueError, TypeError):
        assert fast is None, text
        return
    if fast is not None:
        assert typed(fast) == typed(reference), text


@pytest.mark.parametrize(("text", "expected"), [
    ("a: yes\nb: 0644\nc: 012\nd: 8192\n", {"a": "yes", "b": 644, "c": 12, "d": 8192}),
    ("a: on\nb: 1.5\nc: 0.9\n", {"a": "on", "b": 1.5, "c": 0.9}),
])
def test_yaml_1_2_scalars(text: str, expected: dict[str, Any]) -> None:
    """YAML 1.2, not Kubernetes' 1.1: yes/on stay strings, a leading zero is not octal."""
    assert typed(YAML(typ="safe").load(text)) == typed(expected)
    fast = yaml12.read(text)
    assert fast is None or typed(fast) == typed(expected)


@pytest.mark.parametrize("text", ["a: True\n", "1: a\n", "a: 2024-01-01\n", "a: .5e3\n", "a: 1\na: 2\n",
                                  "a: &x 1\nb: *x\n", "---\na: 1\n---\nb: 2\n", "a: 1_000\n"])
def test_what_might_read_differently_is_left_to_ruamel(text: str) -> None:
    assert yaml12.read(text) is None


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_reference_stacks_take_the_fast_path(stack: str) -> None:
    text = (STACKS_DIR / f"Pulumi.{stack}.yaml").read_text()
    fast = yaml12.read(text)
    assert fast is not None
    assert typed(fast) == typed(YAML(typ="safe").load(text))
