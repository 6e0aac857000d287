"""Manifests are read the way Kubernetes reads them (sigs.k8s.io/yaml: go-yaml v2, then JSON).

The table is the ground truth written down as facts (what ``kubectl`` and the API server make of
each scalar); where ``../shared/bin/yamlsem`` (sigs.k8s.io/yaml itself) exists, every row and a
stream of generated documents are also checked against it. The fast path (rapidyaml -> JSON) and
the exact path (libyaml events) must agree everywhere.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import MANIFESTS_DIR, ROOT
from vllm_infra.serialization import kubernetes_yaml
from vllm_infra.serialization.kubernetes_yaml import DuplicateKey, line_index, read_exact, read_stream

YAMLSEM = ROOT.parent / "shared" / "bin" / "yamlsem"

SCALARS: list[tuple[str, Any]] = [
    # booleans: YAML 1.1 words in three spellings each
    ("yes", True), ("Yes", True), ("YES", True), ("y", True), ("Y", True), ("on", True), ("On", True),
    ("ON", True), ("true", True), ("True", True), ("TRUE", True), ("no", False), ("No", False), ("NO", False),
    ("n", False), ("N", False), ("off", False), ("Off", False), ("OFF", False), ("false", False),
    ("False", False), ("FALSE", False), ("tRuE", "tRuE"), ("yEs", "yEs"),
    # null
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None), ("nUll", "nUll"),
    # integers: octal, hex, binary, underscores, signs
    ("0777", 511), ("0644", 420), ("0o17", 15), ("0x1F", 31), ("0X1f", 31), ("0b101", 5), ("1_000", 1000),
    ("+12", 12), ("-0", 0), ("08", 8), ("12", 12), ("-12", -12), ("9223372036854775807", 2**63 - 1),
    ("9223372036854775808", 2**63), ("18446744073709551615", 2**64 - 1),
    ("-9223372036854775809", -9223372036854776000), ("123456789012345678901", 123456789012345680000),
    # floats: exponents, leading/trailing dots, integral values become JSON integers
    ("1e3", 1000), ("1e+3", 1000), ("1.5e3", 1500), (".5", 0.5), ("1.", 1), ("1.0", 1), ("3.14", 3.14),
    ("1_000.5", 1000.5), ("-1.5e-3", -0.0015), ("6.8523015e+5", 685230.15), ("1e400", "1e400"),
    # strings that look like something else
    ("2024-01-01", "2024-01-01"), ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("1:30", "1:30"), ("0.11.0", "0.11.0"), ("=", "="), ("v1", "v1"), ("8000m", "8000m"), ("16Gi", "16Gi"),
    ("0x", "0x"), ("1e", "1e"), ("+", "+"),
]


def _one(value_text: str) -> Any:
    stream = read_stream(f"key: {value_text}\n")
    assert stream.error is None, stream.error
    return stream.documents[0].value["key"]


@pytest.mark.parametrize(("text", "expected"), SCALARS, ids=[repr(text) for text, _ in SCALARS])
def test_plain_scalars_read_as_kubernetes_reads_them(text: str, expected: Any) -> None:
    assert _one(text) == expected
    assert type(_one(text)) is type(expected)
    assert read_exact(f"key: {text}\n").documents[0].value["key"] == expected


@pytest.mark.parametrize("text", ["'0644'", '"yes"', "'~'", '"1e3"', "'true'", '"0x1F"', "'+12'", "''"])
def test_quoted_scalars_stay_strings(text: str) -> None:
    assert _one(text) == text[1:-1]


@pytest.mark.parametrize(("text", "message"), [
    ("key: .inf\n", "'.inf' is a float JSON cannot represent (Kubernetes rejects it)"),
    ("key: -.Inf\n", "'-.Inf' is a float JSON cannot represent (Kubernetes rejects it)"),
    ("key: .NaN\n", "'.NaN' is a float JSON cannot represent (Kubernetes rejects it)"),
    ("? [a, b]\n: c\n", "a mapping or sequence cannot be a mapping key in Kubernetes manifests"),
    ("key: !!int 3.5\n", "cannot decode '3.5' as !!int"),
    ("a: *nowhere\n", "unknown anchor 'nowhere'"),
    ("@x: 1\n", "found character that cannot start any token"),  # go-yaml: the same words
    ("a: `x\n", "found character that cannot start any token"),
])
def test_what_kubernetes_rejects_is_an_error(text: str, message: str) -> None:
    error = read_stream(text).error
    assert error is not None and message in error.message


def test_keys_become_strings_as_in_json() -> None:
    text = "k:\n  1: a\n  true: b\n  yes: c\n  1.5: d\n  3.14159265: e\n  1e6: f\n  0.00001: g\n  y: h\n"
    assert read_stream(text).documents[0].value == {"k": {"1": "a", "true": "h", "1.5": "d", "3.1415927": "e",
                                                          "1e+06": "f", "1e-05": "g"}}


def test_tags_convert_core_types_and_leave_others_as_text() -> None:
    text = "a: !!str 123\nb: !!int '12'\nc: !!float 3\nd: !custom yes\ne: !!bool 'on'\n"
    assert read_stream(text).documents[0].value == {"a": "123", "b": 12, "c": 3, "d": "yes", "e": True}


def test_duplicate_keys_keep_the_last_value_and_are_reported() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    x: '1'\n    x: '2'\nkind: Secret\n"
    [document] = read_stream(text).documents
    assert document.value["kind"] == "Secret" and document.value["metadata"]["labels"] == {"x": "2"}
    assert document.duplicates == (DuplicateKey(("metadata", "labels", "x"), 7, differs=True),
                                   DuplicateKey(("kind",), 8, differs=True))
    same = read_stream("a: 1\na: 1\n").documents[0]
    assert same.duplicates == (DuplicateKey(("a",), 2, differs=False),)


def test_anchors_aliases_and_merge_keys_as_go_yaml_v2() -> None:
    """go-yaml v2 merges where ``<<`` stands: earlier keys are overwritten, later ones win, and in a
    list of merged mappings the first takes precedence."""
    text = "a: &x {k: 1, j: 1}\nb: {k: 2, <<: *x, j: 3}\nc:\n  <<: [*x, {k: 9, z: 9}]\n  z: 0\nd: *x\n"
    assert read_stream(text).documents[0].value == {
        "a": {"k": 1, "j": 1}, "b": {"k": 1, "j": 3}, "c": {"k": 1, "j": 1, "z": 0}, "d": {"k": 1, "j": 1}}


def test_a_stream_of_comments_has_no_documents() -> None:
    assert read_stream("# nothing here\n") == read_stream("") == read_exact("# only\n")


def test_streams_skip_empty_documents_and_keep_order() -> None:
    text = "---\na: 1\n---\n# only a comment\n---\n...\n---\nb: [x, 'y']\n"
    assert [(d.index, d.value) for d in read_stream(text).documents] == [(0, {"a": 1}), (1, {"b": ["x", "y"]})]


def test_an_error_keeps_the_documents_before_it() -> None:
    stream = read_stream("a: 1\n---\nb: [1, 2\n---\nc: 3\n")
    assert [d.value for d in stream.documents] == [{"a": 1}]
    assert stream.error is not None and stream.error.line == 4
    assert stream.error.message == "while parsing a flow sequence did not find expected ',' or ']'"


def test_alias_bombs_and_deep_nesting_end_quickly_with_an_error() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    deep = "a: " + "[" * 50_000 + "]" * 50_000 + "\n"
    nested = "".join("  " * depth + f"k{depth}:\n" for depth in range(500))
    started = time.process_time()
    for text, message in ((bomb, "aliases expand to more than"), (deep, "maximum nesting depth"),
                          (nested, "nesting deeper than 100 levels")):
        error = read_stream(text).error
        assert error is not None and message in error.message
    assert time.process_time() - started < 30  # generous: this guards against a hang, not speed


def test_line_numbers_are_found_lazily_for_any_path() -> None:
    text = "---\nkind: A\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      image: x\n"
    lines = line_index(text, 1)
    assert lines(()) == 4
    assert lines(("spec", "containers", 0, "image")) == 9
    assert lines(("spec", "containers", 0, "missing", "deeper")) == 8
    assert lines(("nowhere",)) == 4


def test_rendered_manifests_take_the_fast_path() -> None:
    """What synth writes must never need the slow path (the performance budget depends on it)."""
    for path in sorted(MANIFESTS_DIR.rglob("*.yaml")):
        stream = kubernetes_yaml._fast(path.read_text())
        assert stream.error is None and stream.documents, path


# ---- the two paths agree, and agree with sigs.k8s.io/yaml ---------------------------------------

TOKENS = [text for text, _ in SCALARS if text] + ["hello", "a b", "x-y", "8000", "0.9", "-3", "null", "v0.11.0",
                                                  "café", "100%", "a:b", "http://x/y", "@x", "`x", "a@b"]
key_text = st.sampled_from(["name", "image", "1", "on", "yes", "2", "x_y", "a.b/c", "1.5", "0644"])
safe_key_text = st.sampled_from(["name", "image", "1", "2", "x_y", "a.b/c", "true", "app.kubernetes.io/name"])
plain = st.sampled_from(TOKENS)
quoted = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


SAFE_TOKENS = ["hello", "a b", "x-y", "8000", "0.9", "-3", "null", "true", "false", "v0.11.0", "café", "100%",
               "a:b", "http://x/y", "12", "3.5", "-0", "1e3", "2024-01-01", "0.11.0", "16Gi"]
safe_plain = st.sampled_from(SAFE_TOKENS)
safe_quoted = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\\"),
                      max_size=12)


def _scalar(draw: st.DrawFn, safe: bool = False) -> str:
    style = draw(st.sampled_from(["plain", "single", "double"]))
    if style == "plain":
        return draw(safe_plain if safe else plain)
    text = draw(safe_quoted if safe else quoted)
    return "'" + text.replace("'", "''") + "'" if style == "single" else json.dumps(text, ensure_ascii=not safe)


@st.composite
def documents(draw: st.DrawFn, safe: bool = False) -> str:
    """YAML text in every scalar style and collection shape; ``safe`` draws only what the fast path
    accepts, so the two paths are compared where both run."""
    lines: list[str] = []
    keys = draw(st.lists(safe_key_text if safe else key_text, min_size=1, max_size=6, unique=True))
    for key in keys:
        shape = draw(st.sampled_from(["scalar", "flow", "flow-map", "block-seq", "block-map", "literal",
                                      "comment"]))
        if shape == "scalar":
            lines.append(f"{key}: {_scalar(draw, safe)}")
        elif shape == "comment":
            lines += [f"# {draw(plain)}", f"{key}: {_scalar(draw, safe)}  # {draw(safe_plain if safe else plain)}"]
        elif shape == "flow-map":
            inner = draw(st.lists(safe_key_text if safe else key_text, min_size=0, max_size=3, unique=True))
            lines.append(f"{key}: {{{', '.join(f'{k}: {_scalar(draw, safe)}' for k in inner)}}}")
        elif shape == "literal":
            indicator = draw(st.sampled_from(["|", "|-", "|+", ">", ">-"]))
            body = draw(st.lists(st.sampled_from([*TOKENS[:20], "line two", ""]), min_size=1, max_size=3))
            lines.append(f"{key}: {indicator}")
            lines += [f"  {text}" if text else "" for text in body]
        elif shape == "flow":
            items = [_scalar(draw, safe) for _ in range(draw(st.integers(0, 3)))]
            lines.append(f"{key}: [{', '.join(items)}]")
        elif shape == "block-seq":
            lines.append(f"{key}:")
            lines += [f"  - {_scalar(draw, safe)}" for _ in range(draw(st.integers(1, 3)))]
        else:
            lines.append(f"{key}:")
            inner = draw(st.lists(safe_key_text if safe else key_text, min_size=1, max_size=3, unique=True))
            lines += [f"  {inner_key}: {_scalar(draw, safe)}" for inner_key in inner]
    separator = draw(st.sampled_from(["", "---\n"]))
    return separator + "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None)
@given(documents())
def test_fast_and_exact_paths_agree(text: str) -> None:
    fast, exact = read_stream(text), read_exact(text)
    assert (fast.error is None) == (exact.error is None), text
    assert [d.value for d in fast.documents] == [d.value for d in exact.documents], text


@settings(max_examples=400, deadline=None)
@given(documents(safe=True))
def test_the_fast_path_reads_what_the_exact_path_reads(text: str) -> None:
    try:
        fast = kubernetes_yaml._fast(text)
    except kubernetes_yaml._Fallback:
        assume(False)  # a quoted "N" or "0644" looks special to the gate: the exact path reads it
        raise
    assert [d.value for d in fast.documents] == [d.value for d in read_exact(text).documents], text


@pytest.mark.skipif(not YAMLSEM.exists(), reason="../shared/bin/yamlsem is not on this machine")
def test_the_table_matches_sigs_k8s_io_yaml(tmp_path: Path) -> None:
    probe = tmp_path / "probe.yaml"
    rows = [(text, expected) for text, expected in SCALARS if text not in ("1e400",)]
    probe.write_text("".join(f"k{index}: {text}\n" for index, (text, _) in enumerate(rows)))
    truth = json.loads(subprocess.run([str(YAMLSEM), str(probe)], capture_output=True, text=True,
                                      check=True).stdout)
    assert truth == {f"k{index}": expected for index, (_, expected) in enumerate(rows)}
    assert read_stream(probe.read_text()).documents[0].value == truth


@pytest.mark.skipif(not YAMLSEM.exists(), reason="../shared/bin/yamlsem is not on this machine")
@settings(max_examples=40, deadline=None)
@given(documents())
def test_generated_documents_match_sigs_k8s_io_yaml(text: str) -> None:
    probe = Path("/tmp") / f"vllm-infra-yamlsem-{abs(hash(text))}.yaml"
    probe.write_text(text)
    try:
        output = subprocess.run([str(YAMLSEM), str(probe)], capture_output=True, text=True, check=True).stdout
    finally:
        probe.unlink()
    ours = read_stream(text)
    if output.startswith("ERROR:"):
        assert ours.error is not None, (text, output)
        return
    assert ours.error is None, (text, ours.error)
    assert ours.documents[0].value == json.loads(output), text
