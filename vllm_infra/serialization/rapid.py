"""rapidyaml as a fast front end: YAML text -> one JSON text per document, for readers that then
decide, by their own rules, whether the JSON reading is the one they promise (``kubernetes_yaml``
for go-yaml's YAML 1.1, ``yaml12`` for ruamel.yaml's YAML 1.2). What no JSON text can carry
(anchors, aliases, tags, directives, merge keys, unusual escapes or characters) is refused up
front, so each reader's exact path handles it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import ryml


class NotFast(Exception):
    """The fast path cannot promise the reader's semantics for this text."""


_NODE_PROPERTY = re.compile(r"(?:^|[\s\[{,:-])(?:&(?!&)|[*!])[^\s,\[\]{}]")
"""An anchor, alias or tag (a shell's ``&&`` is none of them)."""
_ESCAPE = re.compile(r"\\(?![\\\"nt/])")
"""An escape beyond ``\\n \\t \\" \\\\ \\/``: rapidyaml is more lenient than libyaml (``\\ud800``)."""
_RESERVED = re.compile("[@`]")


def _reserved_start(text: str) -> bool:
    """A scalar starting with a reserved indicator (at a line's start, after ``: ``, ``- ``, ``? ``
    or in flow), which libyaml rejects and rapidyaml reads as text. Found from the indicators
    outward: a regex over every position costs more than the rest of the gate."""
    for match in _RESERVED.finditer(text):
        at = match.start() - 1
        while at >= 0 and text[at] in " \t":
            at -= 1
        if at < 0 or text[at] in "\n[{," or (text[at] in "-:?" and at < match.start() - 1):
            return True
    return False


_NOT_PLAIN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
"""Characters YAML forbids in a stream or reads as line breaks (NEL, LS, PS)."""
_LONE_CR = re.compile("\r(?!\n)")
"""A carriage return alone: YAML and libyaml break lines there, rapidyaml reads on (a file of
lone-CR lines would be one comment line to it)."""


def needs_exact_source(text: str) -> bool:
    """Anchors, aliases, tags, directives, merge keys, reserved indicators, unusual escapes or
    characters. Cheap substring tests first, regexes only where a trigger occurs."""
    if ("&" in text or "*" in text or "!" in text) and _NODE_PROPERTY.search(text):
        return True
    if "<<" in text or text.startswith("%") or "\n%" in text:
        return True
    if "\\" in text and _ESCAPE.search(text):
        return True
    if ("@" in text or "`" in text) and _reserved_start(text):
        return True
    if "\r" in text and _LONE_CR.search(text):
        return True
    return _NOT_PLAIN_TEXT.search(text) is not None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml's C++ error handler writes to file descriptor 2 before raising; the exact paths
    report the error properly instead."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def json_documents(text: str) -> list[str]:
    """The stream's non-empty documents as JSON (raises NotFast for what only an exact path reads,
    and for anything rapidyaml rejects)."""
    if needs_exact_source(text):
        raise NotFast
    try:
        with _quiet_stderr():
            tree = ryml.parse_in_arena(text.encode())
            root = tree.root_id()
            nodes = list(ryml.children(tree, root)) if tree.is_stream(root) else [root]
            emitted = [_json(tree, node) for node in nodes]
    except (ryml.ExceptionBasic, UnicodeEncodeError):
        raise NotFast from None
    return [document for document in emitted if document and document.strip() != "null"]


def _json(tree: ryml.Tree, node: int) -> str:
    """One node as JSON, emitted into a buffer Python owns: ``ryml.emit_json`` (rapidyaml 0.15)
    never frees the buffer it allocates, 8 KiB per manifest (170 MB for 20,000 calls)."""
    buffer = bytearray(ryml.compute_json_length(tree, node))
    return str(ryml.emit_json_in_place(tree, buffer, node), "utf-8")
