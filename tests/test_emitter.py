"""YAML output is deterministic and reads back identically in YAML 1.1 (kubectl, PyYAML)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.conftest import STACKS_DIR
from vllm_infra.outputs.synth import synthesize
from vllm_infra.serialization.emitter import _emit_mapping, _reference_dump, dump, dump_all

scalars = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(),
                    st.sampled_from(["yes", "no", "on", "off", "y", "n", "0777", "1e3", "0.11.0", "null", "~",
                                     "true", "0x1F", "1_000", "12:30", ".inf", "<<", "="]))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                         max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=12), documents, max_size=5))
def test_round_trip_through_a_yaml_1_1_reader(document: dict[str, Any]) -> None:
    assert yaml.safe_load(dump(document)) == document


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=12), documents, max_size=5))
def test_round_trip_through_the_check_loader(document: dict[str, Any]) -> None:
    """What makes the parse cache sound: parsing a written file gives back the written object."""
    assert YAML(typ="safe").load(dump(document)) == document


def test_keys_sorted_and_no_folding() -> None:
    long = "--arg=" + "x" * 300
    text = dump({"b": 1, "a": [long]})
    assert text == f"a:\n- {long}\nb: 1\n"


def test_dump_all_separates_documents() -> None:
    assert dump_all([{"a": 1}, {"b": 2}]) == "---\na: 1\n---\nb: 2\n"


# Strings built from the characters where plain and quoted scalars part ways.
tricky_text = st.one_of(
    st.text(alphabet="aZ09_-./:=@+# '\"\n\t\\{}[],&*!|>%`?~é", max_size=12),
    st.sampled_from(["2001-12-14", "2001-12-14t21:59:43.10-05:00", "0o17", "1.5", "-1", "+1", "a:", ":a",
                     "a: b", "a #b", "-", "- a", "?", "http://x:80/y", "a" * 130, "", " ", "x\n", "\u2028"]),
)
tricky_scalars = st.one_of(tricky_text, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
tricky_documents = st.recursive(
    tricky_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(tricky_text, inner, max_size=3)),
    max_leaves=12)


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(tricky_text, tricky_documents, min_size=1, max_size=4))
def test_direct_emitter_is_byte_identical_to_ruamel(document: dict[str, Any]) -> None:
    assert dump(document) == _reference_dump(document)


def test_reference_stacks_take_the_direct_path_and_match_ruamel() -> None:
    for stack in synthesize(STACKS_DIR):
        for obj in stack.objects:
            lines: list[str] = []
            _emit_mapping(obj, lines, 0)  # raises _NeedsReference if the fast path would give up
            assert "".join(lines) == _reference_dump(obj)


def test_shared_sub_objects_are_written_out_without_anchors() -> None:
    ports = [{"port": 8000}]
    expected = "a:\n- port: 8000\nb:\n- port: 8000\n"
    assert dump({"a": ports, "b": ports}) == expected
    assert _reference_dump({"a": ports, "b": ports}) == expected


def test_mappings_with_mixed_key_types_fall_back_to_ruamel() -> None:
    """A patch value such as ``{1: one, b: two}`` has no sort order; ruamel.yaml writes it as given."""
    document = {"metadata": {"annotations": {1: "one", "b": "two"}}}
    text = dump(document)
    assert text == _reference_dump(document)
    assert yaml.safe_load(text) == document
