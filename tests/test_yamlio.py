"""YAML output is deterministic and reads back identically in YAML 1.1 (kubectl, PyYAML)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_infra.yamlio import dump, dump_all

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


def test_keys_sorted_and_no_folding() -> None:
    long = "--arg=" + "x" * 300
    text = dump({"b": 1, "a": [long]})
    assert text == f"a:\n- {long}\nb: 1\n"


def test_dump_all_separates_documents() -> None:
    assert dump_all([{"a": 1}, {"b": 2}]) == "---\na: 1\n---\nb: 2\n"
