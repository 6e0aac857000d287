"""Read manifests the way Kubernetes reads them: ``sigs.k8s.io/yaml`` (go-yaml v2, YAML 1.1 rules)
turns YAML into JSON, and the API server, kubectl and kubeconform see that JSON.

So ``on``/``off``/``yes``/``no``/``y``/``n`` (any of their three spellings) are booleans, ``0644``
is octal 420, ``1_000`` and ``1e3`` are 1000, ``~`` and ``Null`` are null, timestamps stay
strings, a duplicate key takes the last value, ``<<`` merges, integral floats become integers
and non-string keys become strings. Python parsers disagree on some of these; this module is the
one place where the rules live.

Two paths give the same objects. The fast one parses with rapidyaml, has it emit JSON and reads
that with the C JSON decoder; it is taken only when nothing in the document can read differently
under YAML 1.1 (no anchors, aliases, tags, merge keys, duplicate keys or plain scalars such as
``yes`` or ``0644``). Everything else goes through the exact path: libyaml's event stream (via
PyYAML) resolved here, with bounds on nesting and alias expansion. ``tests/test_kubernetes_yaml.py``
compares the two, and both with ``sigs.k8s.io/yaml`` itself where its probe binary exists.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import re
import struct
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from sys import intern
from typing import Any, TypeVar

import yaml

from vllm_infra.serialization.rapid import NotFast, json_documents
from vllm_infra.vocabulary.paths import FieldPath

_Key = TypeVar("_Key", bound=Hashable)

MAX_DEPTH = 100
"""Deepest nesting accepted; Kubernetes objects stay far below it, and deeper input is an attack."""
MAX_ALIAS_NODES = 100_000
"""Most nodes that aliases may add to one stream (a billion-laughs bomb needs far more)."""


class YamlError(Exception):
    """Input that Kubernetes could not read either; ``line`` is 1-based (None when unknown)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


@dataclass(frozen=True)
class DuplicateKey:
    """A mapping key given twice; Kubernetes keeps the last value."""

    path: FieldPath
    line: int
    differs: bool = False
    """The two values differ: a reader of the file may believe the first one."""


@dataclass
class Document:
    """One non-empty document of a stream, as Kubernetes sees it."""

    index: int
    """Position among the stream's non-empty documents."""
    value: Any
    duplicates: tuple[DuplicateKey, ...] = ()


@dataclass
class Stream:
    """The documents read before the end of the stream or the first error."""

    documents: list[Document]
    error: YamlError | None = None


# ---- scalar resolution (go-yaml v2 ``resolve``, then sigs.k8s.io/yaml's JSON conversion) ------

_BOOLEANS = {**dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
             **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False)}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_NOT_NUMBERS = frozenset({".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                          "-.Inf", "-.INF"})
_NOT_NUMBER_KEYS = {".inf": ".inf", "-.inf": "-.inf", ".nan": ".nan"}
"""How sigs.k8s.io/yaml names infinite and NaN keys."""
_MERGE = "<<"
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1


class _NotNumber(Exception):
    """A plain scalar that go-yaml resolves to a float JSON cannot carry (``.inf``, ``.nan``)."""


def _go_integer(plain: str) -> tuple[int | None, bool]:
    """``strconv.ParseInt(plain, 0, 64)``, then ``ParseUint``: (the value, or None; whether the
    syntax was an integer's, so that only the range failed)."""
    match = _GO_INT.match(plain)
    if not match:
        return None, False
    sign, digits = match.groups()
    base = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}.get(digits[:2])
    if base is not None:
        digits = digits[2:]
    elif len(digits) > 1:
        base = 8 if digits[0] == "0" else 10
    value = int(digits, base or 10) * (-1 if sign == "-" else 1)
    if _INT64[0] <= value <= _INT64[1] or (not sign and value <= _UINT64_MAX):
        return value, True
    return None, True


def json_number(value: float) -> int | float:
    """A float64 after Go's ``json.Marshal`` and a JSON reader: integral values below 1e21 are
    written without a fraction (and read back as integers)."""
    if math.isnan(value) or math.isinf(value):
        raise _NotNumber
    if value.is_integer() and abs(value) < 1e21:
        return int(Decimal(repr(value)))
    return value


def go_value(text: str) -> Any:
    """What go-yaml v2 makes of an untagged plain scalar: bool, None, int, float or the text."""
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if text in _NULLS:
        return None
    if text in _NOT_NUMBERS:
        raise _NotNumber
    first = text[:1]
    if first == ".":
        return float(text) if _FLOAT.match(text) else text
    if not (first.isdigit() or first in "+-"):
        return text
    plain = text.replace("_", "")
    integer, integer_syntax = _go_integer(plain)
    if integer is not None:
        return integer
    if _FLOAT.match(plain):
        number = float(plain)
        return text if math.isinf(number) else number
    if integer_syntax and plain.lstrip("+-")[:2].lower() in ("0x", "0o", "0b"):
        return int(plain, 0)  # beyond 64 bits: go-yaml falls back to a big integer
    return text


def resolve_plain(text: str) -> Any:
    """A plain scalar as the JSON Kubernetes derives from it reads back."""
    value = go_value(text)
    return json_number(value) if isinstance(value, float) else value


_TAG_TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool,
                                                  "null": type(None)}


def _tagged(tag: str, text: str, line: int) -> Any:
    """A scalar with an explicit tag: core tags convert (or fail, as go-yaml does), others stay text."""
    short = tag.removeprefix("tag:yaml.org,2002:")
    if short == "str":
        return text
    if short == "binary":
        try:
            return base64.b64decode(text, validate=False).decode()
        except (ValueError, UnicodeDecodeError):
            raise YamlError(f"!!binary value is not base64 text: {text[:40]!r}", line) from None
    if short in _TAG_TYPES:
        value = resolve_plain(text)
        expected = _TAG_TYPES[short]
        if (isinstance(value, bool) and short != "bool") or not isinstance(value, expected):
            raise YamlError(f"cannot decode {text!r} as !!{short}", line)
        return value
    return text


def json_key(key: Any, line: int) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it into JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _float32_g(key)
    raise YamlError(f"unsupported map key {key!r} (Kubernetes accepts string, number and boolean keys)", line)


def _float32_g(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'g', -1, 32)``: the shortest float32 digits, %e from 1e6."""
    single = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):
        text = f"{single:.{precision}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent = text.split("e")
    digits, power = mantissa.replace(".", "").rstrip("0") or "0", int(exponent)
    sign = ""
    if digits.startswith("-"):
        sign, digits = "-", digits[1:]
    if power < -4 or power >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if power >= len(digits) - 1:
        return sign + digits + "0" * (power - len(digits) + 1)
    if power >= 0:
        return f"{sign}{digits[:power + 1]}.{digits[power + 1:]}"
    return f"{sign}0.{'0' * (-power - 1)}{digits}"


# ---- the exact path: libyaml events, resolved here ---------------------------------------------


@dataclass
class _Frame:
    """A collection under construction."""

    value: dict[str, Any] | list[Any]
    path: FieldPath
    anchor: str | None
    line: int
    nodes: int = 1
    key: Any = None
    key_line: int = 0
    has_key: bool = False
    seen: set[str] = field(default_factory=set)
    merging: bool = False


class _Builder:
    """Turns libyaml events into JSON-like values with Kubernetes' semantics."""

    def __init__(self) -> None:
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.alias_nodes = 0

    def document(self, events: Iterator[Any]) -> tuple[Any, list[DuplicateKey]]:
        """Build the next document's value (the events after its DocumentStart)."""
        stack: list[_Frame] = []
        duplicates: list[DuplicateKey] = []
        result: Any = None
        for event in events:
            line = event.start_mark.line + 1
            if isinstance(event, yaml.DocumentEndEvent):
                return result, duplicates
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", line)
                path = self._child_path(stack, line)
                container: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
                stack.append(_Frame(container, path, event.anchor, line))
                continue
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = stack.pop()
                if frame.anchor:
                    self.anchors[frame.anchor] = (frame.value, frame.nodes)
                value, nodes = frame.value, frame.nodes
            elif isinstance(event, yaml.ScalarEvent):
                value, nodes = self._scalar(event, line, stack), 1
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in self.anchors:
                    raise YamlError(f"unknown anchor '{event.anchor}'", line)
                shared, nodes = self.anchors[event.anchor]
                self.alias_nodes += nodes
                if self.alias_nodes > MAX_ALIAS_NODES:
                    raise YamlError(f"aliases expand to more than {MAX_ALIAS_NODES} nodes", line)
                value = copy.deepcopy(shared)  # JSON has no references: each use is a copy
            else:
                continue
            if not stack:
                result = value
                continue
            self._add(stack, value, nodes, line, duplicates)
        raise YamlError("unexpected end of stream")

    @staticmethod
    def _child_path(stack: list[_Frame], line: int) -> FieldPath:
        if not stack:
            return ()
        parent = stack[-1]
        if isinstance(parent.value, list):
            return (*parent.path, len(parent.value))
        if not parent.has_key:
            raise YamlError("a mapping or sequence cannot be a mapping key in Kubernetes manifests", line)
        return (*parent.path, json_key(parent.key, parent.key_line))

    @staticmethod
    def _scalar(event: Any, line: int, stack: list[_Frame]) -> Any:
        text = event.value
        is_key = bool(stack) and isinstance(stack[-1].value, dict) and not stack[-1].has_key
        try:
            if event.tag and event.tag != "!":
                return _tagged(event.tag, text, line)
            if event.style or not event.implicit[0]:
                return text
            if is_key and text == _MERGE:
                stack[-1].merging = True
                return _MERGE
            return go_value(text) if is_key else resolve_plain(text)
        except _NotNumber:
            if is_key:
                return _NOT_NUMBER_KEYS[text.lower().lstrip("+")]
            raise YamlError(f"{text!r} is a float JSON cannot represent (Kubernetes rejects it)", line) from None

    def _add(self, stack: list[_Frame], value: Any, nodes: int, line: int, duplicates: list[DuplicateKey]) -> None:
        frame = stack[-1]
        frame.nodes += nodes
        if isinstance(frame.value, list):
            frame.value.append(value)
            return
        if not frame.has_key:
            if isinstance(value, dict | list):
                raise YamlError("a mapping or sequence cannot be a mapping key in Kubernetes manifests", line)
            frame.key, frame.key_line, frame.has_key = value, line, True
            return
        frame.has_key = False
        assert isinstance(frame.value, dict)
        if frame.merging:
            frame.merging = False
            self._merge(frame, value, line)
            return
        key = json_key(frame.key, frame.key_line)
        if key in frame.seen:
            duplicates.append(DuplicateKey((*frame.path, key), frame.key_line, frame.value.get(key) != value))
        frame.seen.add(key)
        frame.value[key] = value

    @staticmethod
    def _merge(frame: _Frame, value: Any, line: int) -> None:
        """``<<: *a`` or ``<<: [*a, *b]``: merged keys overwrite what the mapping set so far (go-yaml
        v2); in a list, earlier mappings take precedence."""
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            raise YamlError("merge (<<) needs a mapping or a list of mappings", line)
        assert isinstance(frame.value, dict)
        for source in reversed(sources):
            frame.value.update(source)


def _exact(text: str) -> Stream:
    builder, documents = _Builder(), list[Document]()
    events = yaml.parse(text, Loader=yaml.CSafeLoader)
    try:
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                value, duplicates = builder.document(events)
                if value is not None:
                    documents.append(Document(len(documents), value, tuple(duplicates)))
    except YamlError as exc:
        return Stream(documents, exc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        return Stream(documents, YamlError(problem, mark.line + 1 if mark else None))
    except yaml.YAMLError as exc:
        return Stream(documents, YamlError(str(exc)))
    except RecursionError:
        return Stream(documents, YamlError(f"nesting deeper than {MAX_DEPTH} levels"))
    return Stream(documents)


# ---- the fast path: rapidyaml -> JSON -> json.loads, when nothing can read differently --------

_JSON_GATE = re.compile(
    r'"(?:(?=[yYnNoOtTfF~])(?:[yYnN]|[Yy]es|YES|[Nn]o|NO|[Oo]n|ON|[Oo]ff|OFF|True|TRUE|False|FALSE|~|Null|NULL)"'
    r'|(?=[-+.0-9])(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|\+[^"]*|-?0[0-9_xXoObB][^"]*|-?[0-9]+_[^"]*'
    r'|-?\.[0-9][^"]*|-?[0-9]+\.(?:[eE][-+]?[0-9]+)?)"'
    r'|(?=[-.0-9])-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+[eE][-+]?[0-9]+)(?:[eE][-+]?[0-9]+)?"\s*:)'
)
"""JSON strings whose YAML source, if plain, means something else to go-yaml: booleans and nulls
of YAML 1.1, octal/hex/underscored numbers, ``.5``, and float-looking keys."""


class _Fallback(NotFast):
    """The fast path cannot promise Kubernetes' reading of this document."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A mapping whose string values are interned: manifests repeat a few thousand distinct
    strings across a fleet, and one copy each saves a quarter of a loaded object's memory."""
    value = {key: intern(item) if type(item) is str else item for key, item in pairs}
    if len(value) != len(pairs):
        raise _Fallback  # duplicate keys: the exact path locates them
    return value


def _float(text: str) -> int | float:
    number = float(text)
    if math.isinf(number):
        raise _Fallback  # go-yaml keeps an out-of-range float as a string
    return json_number(number)


def _int(text: str) -> int:
    if len(text) > _SAFE_INT_DIGITS:
        raise _Fallback  # beyond int64/uint64 go-yaml reads a float
    return int(text)


_SAFE_INT_DIGITS = 18
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_float=_float, parse_int=_int)
_VALUES_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_int)
"""Mappings built in C, a repeated key silently taking the last value as in Kubernetes: for readers
that look at each object once and keep nothing (``validate``), a third faster."""


def _fast_json(text: str) -> list[str]:
    """The stream's non-empty documents as JSON, when the fast path can promise Kubernetes' reading
    (raises _Fallback otherwise; decoding may still fall back, see _decode)."""
    try:
        documents = json_documents(text)
    except NotFast:
        raise _Fallback from None
    if any(_JSON_GATE.search(document) for document in documents):
        raise _Fallback
    return documents


def _decode(documents: list[str], decoder: json.JSONDecoder = _DECODER) -> list[Any]:
    """Decode several JSON documents in one call, so their keys are shared: the C decoder keeps one
    string per distinct key within a call (5.8 instead of 7.9 KiB per rendered object)."""
    try:
        values = decoder.decode("[" + ",".join(documents) + "]")
    except ValueError:
        raise _Fallback from None
    assert isinstance(values, list)
    return values


def _fast(text: str) -> Stream:
    return Stream([Document(index, value) for index, value in enumerate(_decode(_fast_json(text)))])


def read_stream(text: str) -> Stream:
    """Every non-empty document of a YAML (or JSON) stream, as Kubernetes reads it."""
    try:
        return _fast(text)
    except _Fallback:
        return _exact(text)


BATCH_DOCUMENTS = 256
"""Documents decoded per call by ``read_streams`` (bounded, so memory stays flat)."""


def read_streams(texts: Iterable[tuple[_Key, str]], *, duplicates: bool = True) -> Iterator[tuple[_Key, Stream]]:
    """``read_stream`` over many streams, keyed by the caller, in order; the fast path decodes up
    to ``BATCH_DOCUMENTS`` documents per call so that objects of many files share their keys.
    Without ``duplicates``, fast-path documents do not report repeated keys (their values are
    Kubernetes' all the same) and their strings are not interned."""
    decoder = _DECODER if duplicates else _VALUES_DECODER
    pending: list[tuple[_Key, str, list[str]]] = []
    size = 0
    for key, text in texts:
        try:
            documents = _fast_json(text)
        except _Fallback:
            yield from _flush(pending, decoder)
            pending, size = [], 0
            yield key, _exact(text)
            continue
        pending.append((key, text, documents))
        size += len(documents)
        if size >= BATCH_DOCUMENTS:
            yield from _flush(pending, decoder)
            pending, size = [], 0
    yield from _flush(pending, decoder)


def _flush(pending: list[tuple[_Key, str, list[str]]], decoder: json.JSONDecoder,
           ) -> Iterator[tuple[_Key, Stream]]:
    if not pending:
        return
    try:
        values = _decode([document for _key, _text, documents in pending for document in documents], decoder)
    except _Fallback:  # one of them needs the exact path: find out which, stream by stream
        for key, text, _documents in pending:
            yield key, read_stream(text)
        return
    position = 0
    for key, _text, documents in pending:
        count = len(documents)
        yield key, Stream([Document(index, value) for index, value in enumerate(values[position:position + count])])
        position += count


def read_exact(text: str) -> Stream:
    """The exact path alone (the reference the fast path is tested against)."""
    return _exact(text)


# ---- where a field is: only computed for documents with findings ------------------------------


def line_index(text: str, document: int) -> Callable[[FieldPath], int]:
    """A function from a field path in the ``document``-th non-empty document to its 1-based line
    (the line of the deepest existing node along the path)."""
    lines: dict[FieldPath, int] = {}
    with contextlib.suppress(yaml.YAMLError, YamlError):  # lines found before an error stay usable
        _index_lines(text, document, lines)

    def lookup(path: FieldPath) -> int:
        for end in range(len(path), -1, -1):
            found = lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return 1

    return lookup


def _index_lines(text: str, document: int, lines: dict[FieldPath, int]) -> None:
    builder = _LineBuilder()
    seen = -1
    events = yaml.parse(text, Loader=yaml.CSafeLoader)
    for event in events:
        if not isinstance(event, yaml.DocumentStartEvent):
            continue
        found = builder.walk(events, lines if seen + 1 == document else None)
        if found:
            seen += 1
            if seen == document:
                return
        lines.clear()


class _LineBuilder:
    """Walks one document's events, recording the line of every node by path."""

    def walk(self, events: Iterator[Any], lines: dict[FieldPath, int] | None) -> bool:
        """True if the document had content (was not empty)."""
        stack: list[list[Any]] = []  # [path, is_mapping, next_index, pending_key]
        content = False
        sink = lines if lines is not None else {}
        for event in events:
            if isinstance(event, yaml.DocumentEndEvent):
                return content
            line = event.start_mark.line + 1
            if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent | yaml.MappingStartEvent |
                          yaml.SequenceStartEvent):
                if not stack:
                    content = content or not (isinstance(event, yaml.ScalarEvent) and event.value in _NULLS
                                              and event.style is None)
                    path: FieldPath = ()
                else:
                    top = stack[-1]
                    if top[1] and top[3] is None:
                        top[3] = _key_text(event)
                        continue
                    path = (*top[0], top[3] if top[1] else top[2])
                    if top[1]:
                        top[3] = None
                    else:
                        top[2] += 1
                sink.setdefault(path, line)
                if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                    stack.append([path, isinstance(event, yaml.MappingStartEvent), 0, None])
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
        return content


def _key_text(event: Any) -> str:
    if not isinstance(event, yaml.ScalarEvent):
        return ""
    if event.style or not event.implicit[0]:
        return str(event.value)
    try:
        return json_key(go_value(event.value), 0)
    except (YamlError, _NotNumber):
        return str(event.value)


_DEEP_INDENT = re.compile(rf"^[ \t-]{{{MAX_DEPTH},}}", re.MULTILINE)


def bounds_error(text: str) -> YamlError | None:
    """Whether a YAML stream stays within MAX_DEPTH and MAX_ALIAS_NODES, read as events only (no
    values are built): for loaders without these limits, such as ruamel's for stack files, which a
    billion-laughs bomb or 600 nested brackets would otherwise hang or crash. What libyaml cannot
    parse is counted on ruamel.yaml's own events (it accepts more, e.g. anchors with dots, which
    YAML 1.2 allows), so no construct the loaders accept escapes the bound."""
    if "*" not in text and text.count("[") + text.count("{") < MAX_DEPTH and not _DEEP_INDENT.search(text):
        return None  # no alias, and too few brackets or indentation to nest that deep
    try:
        return _bounds(yaml.parse(text, Loader=yaml.CSafeLoader), _LIBYAML_EVENTS)
    except yaml.YAMLError:
        pass
    from ruamel.yaml import YAML
    from ruamel.yaml import events as ruamel_events
    from ruamel.yaml.error import YAMLError as RuamelError

    try:
        return _bounds(YAML(typ="rt").parse(text), (ruamel_events.MappingStartEvent, ruamel_events.SequenceStartEvent,
                                                     ruamel_events.MappingEndEvent, ruamel_events.SequenceEndEvent,
                                                     ruamel_events.ScalarEvent, ruamel_events.AliasEvent))
    except RuamelError:
        return None  # a syntax error to both: the loader reports it with its own position


_LIBYAML_EVENTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.MappingEndEvent, yaml.SequenceEndEvent,
                   yaml.ScalarEvent, yaml.AliasEvent)


def _bounds(events: Iterable[Any], kinds: tuple[type, ...]) -> YamlError | None:
    """The first limit the events pass (nesting, alias expansion), or None."""
    mapping_start, sequence_start, mapping_end, sequence_end, scalar, alias = kinds
    sizes: dict[str, int] = {}
    frames: list[tuple[str | None, int]] = []
    expanded = 0
    for event in events:
        line = event.start_mark.line + 1 if event.start_mark else None
        named: str | None = getattr(event, "anchor", None)
        nodes = 0
        if isinstance(event, mapping_start | sequence_start):
            if len(frames) >= MAX_DEPTH:
                return YamlError(f"nesting deeper than {MAX_DEPTH} levels", line)
            frames.append((named, 1))
            continue
        if isinstance(event, mapping_end | sequence_end):
            anchor, nodes = frames.pop()
            if anchor:
                sizes[anchor] = nodes
        elif isinstance(event, scalar):
            nodes = 1
            if named:
                sizes[named] = 1
        elif isinstance(event, alias):
            nodes = sizes.get(named or "", 1)
            expanded += nodes
            if expanded > MAX_ALIAS_NODES:
                return YamlError(f"aliases expand to more than {MAX_ALIAS_NODES} nodes", line)
        if frames:
            anchor, count = frames[-1]
            frames[-1] = (anchor, count + nodes)
    return None
