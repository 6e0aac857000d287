"""Maintenance tool: build ``vllm_infra/catalog/data/vllm_releases.json`` from vLLM's published wheels.

Run ``python tools/vllm_release_catalog.py [--cache DIR]`` from the repository root (network needed).
For every final vLLM release on PyPI from 0.8.0 on, the tool reads a handful of source files out of
the release's wheel with HTTP range requests (a few hundred kB instead of the ~400 MB wheel), then
reads them the way vLLM's own parser builder does, without importing vLLM (which needs torch and a
GPU stack):

- flags: every long option that ``vllm serve`` registers (``EngineArgs``/``AsyncEngineArgs``
  ``add_cli_args``, the OpenAI frontend's ``make_arg_parser`` and the ``serve`` subcommand), with the
  value kind argparse gives it. Options built from config dataclasses (``get_kwargs(ModelConfig)``) get
  their kind from the field's annotation with the precedence of ``vllm.engine.arg_utils._compute_kwargs``
  (dataclass -> json, ``bool | str`` -> optional value, bool -> ``--x/--no-x``, Literal -> choice,
  collections -> list, int, float, dict -> json, else str).
- metrics: every ``vllm:*`` Gauge/Counter/Histogram created in the V1 metrics modules, with
  ``hidden`` when it is only created under ``show_hidden_metrics`` and ``deprecated`` when its
  documentation says so.

Facts are stored as spans of consecutive releases with the same value, so the file diffs well.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

PYPI_JSON = "https://pypi.org/pypi/vllm/json"
OUTPUT = Path(__file__).resolve().parent.parent / "vllm_infra" / "catalog" / "data" / "vllm_releases.json"
FIRST_RELEASE = (0, 8, 0)
_FINAL = re.compile(r"^\d+(\.\d+){2,3}$")
_PARSER_FILE = re.compile(r"^vllm/(engine/arg_utils|entrypoints/cli/serve|entrypoints/(.+/)?\w*args)\.py$")
_PARSER_FUNCTIONS = {"add_cli_args", "make_arg_parser", "subparser_init"}
_METRIC_FILE = re.compile(r"^vllm/(v1/.*metrics.*|engine/metrics)\.py$|^vllm/v1/metrics/.*\.py$")
_BUILTIN_KINDS = {"bool", "int", "float", "str", "dict", "list", "tuple", "set", "None", "Any", "object"}


class _RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file over HTTP range requests (enough for zipfile)."""

    def __init__(self, client: httpx.Client, url: str, size: int) -> None:
        self._client, self._url, self._size, self._pos = client, url, size, 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: self._size + offset}[whence]
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size or not len(buffer):
            return 0
        end = min(self._pos + len(buffer), self._size) - 1
        response = self._client.get(self._url, headers={"Range": f"bytes={self._pos}-{end}"})
        response.raise_for_status()
        data = response.content
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


@dataclass
class Release:
    version: str
    date: str
    wheel: str
    sha256: str
    url: str
    size: int


def releases(client: httpx.Client) -> list[Release]:
    """Final releases from FIRST_RELEASE on, oldest first, each with one wheel."""
    index = client.get(PYPI_JSON).raise_for_status().json()
    found = []
    for version, files in index["releases"].items():
        wheels = sorted((f for f in files if f["filename"].endswith(".whl") and not f.get("yanked")),
                        key=lambda f: ("x86_64" not in f["filename"], f["filename"]))
        if not _FINAL.match(version) or not wheels or _key(version) < FIRST_RELEASE:
            continue
        wheel = wheels[0]
        found.append(Release(version, min(f["upload_time"] for f in files)[:10], wheel["filename"],
                             wheel["digests"]["sha256"], urljoin(PYPI_JSON, wheel["url"]), wheel["size"]))
    return sorted(found, key=lambda r: _key(r.version))


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _wanted(name: str) -> bool:
    return (bool(_PARSER_FILE.match(name)) or name == "vllm/config.py" or name.startswith("vllm/config/")
            or bool(_METRIC_FILE.match(name))) and name.endswith(".py")


def fetch_sources(client: httpx.Client, release: Release, cache: Path) -> Path:
    """The release's parser, config and metrics modules, extracted once into ``cache/<version>``."""
    root = cache / release.version
    done = root / ".complete"
    if done.exists():
        return root
    with zipfile.ZipFile(io.BufferedReader(_RangeFile(client, release.url, release.size), 1 << 16)) as wheel:
        for name in wheel.namelist():
            if _wanted(name):
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(name))
    done.write_text(release.sha256)
    return root


@dataclass
class _Module:
    name: str
    path: str
    tree: ast.Module
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    definitions: dict[str, ast.stmt] = field(default_factory=dict)


class SourceIndex:
    """The release's modules by dotted name, with their top-level classes, aliases and imports."""

    def __init__(self, root: Path) -> None:
        self.modules: dict[str, _Module] = {}
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            dotted = relative[:-3].replace("/", ".").removesuffix(".__init__")
            module = _Module(dotted, relative, ast.parse(path.read_text(encoding="utf-8")))
            for node in module.tree.body:
                self._index(module, node)
            self.modules[dotted] = module

    @staticmethod
    def _index(module: _Module, node: ast.stmt) -> None:
        if isinstance(node, ast.ClassDef):
            module.definitions[node.name] = node
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            module.definitions[node.targets[0].id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            module.definitions[node.target.id] = node
        elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
            source = node.module or ""
            if node.level:  # relative: from .compilation import X
                package = module.name.split(".")
                if not module.path.endswith("__init__.py"):
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                source = ".".join(filter(None, [*package, source]))
            for alias in node.names:
                module.imports[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, ast.If):  # TYPE_CHECKING blocks
            for child in node.body:
                SourceIndex._index(module, child)

    def resolve(self, module: _Module, name: str, depth: int = 0) -> tuple[_Module, ast.stmt] | None:
        """Follow ``from x import name`` chains to the definition of ``name``, if we hold its module."""
        if name in module.definitions:
            return module, module.definitions[name]
        if name in module.imports and depth < 8:
            target_module, target_name = module.imports[name]
            target = self.modules.get(target_module)
            if target is not None:
                return self.resolve(target, target_name, depth + 1)
        return None


def _flatten(node: ast.expr | None) -> list[ast.expr]:
    """The members of a union annotation (``X | Y``, ``Optional[X]``, ``Union[...]``, ``Annotated``)."""
    if node is None:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _flatten(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return [node]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flatten(node.left) + _flatten(node.right)
    if isinstance(node, ast.Subscript):
        head = _tail(node.value)
        inner = node.slice
        if head == "Optional":
            return [*_flatten(inner), ast.Constant(None)]
        if head == "Union":
            elements = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            return [member for element in elements for member in _flatten(element)]
        if head in {"SkipValidation", "Required", "NotRequired"}:
            return _flatten(inner)
        if head == "Annotated":
            return _flatten(inner.elts[0] if isinstance(inner, ast.Tuple) else inner)
    return [node]


def _tail(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literal_values(node: ast.Subscript) -> list[Any]:
    inner = node.slice
    elements = inner.elts if isinstance(inner, ast.Tuple) else [inner]
    values = []
    for element in elements:
        if isinstance(element, ast.Constant):
            values.append(element.value)
    return values


class _Hints:
    """The set of types an annotation allows, as ``_compute_kwargs`` sees them."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.choices: list[Any] = []

    def add(self, index: SourceIndex, module: _Module, node: ast.expr, depth: int = 0) -> None:
        for member in _flatten(node):
            if isinstance(member, ast.Constant) and member.value is None:
                self.names.add("None")
            elif isinstance(member, ast.Subscript):
                head = _tail(member.value)
                if head == "Literal":
                    self.names.add("Literal")
                    self.choices.extend(_literal_values(member))
                elif head in {"list", "List", "Sequence"}:
                    self.names.add("list")
                elif head in {"tuple", "Tuple"}:
                    self.names.add("tuple")
                elif head in {"set", "Set"}:
                    self.names.add("set")
                elif head in {"dict", "Dict", "Mapping"}:
                    self.names.add("dict")
                else:
                    self.names.add("other")
            else:
                self._add_name(index, module, _tail(member), depth)

    def _add_name(self, index: SourceIndex, module: _Module, name: str, depth: int) -> None:
        if name in _BUILTIN_KINDS:
            self.names.add(name)
            return
        found = index.resolve(module, name) if depth < 8 else None
        if found is None:
            self.names.add("other")
            return
        owner, definition = found
        if isinstance(definition, ast.ClassDef):
            bases = {_tail(base) for base in definition.bases}
            if bases & {"TypedDict", "dict"}:
                self.names.add("dict")
            elif bases & {"Enum", "StrEnum", "IntEnum", "str", "int", "Protocol"}:
                self.names.add("other")
            else:
                self.names.add("dataclass")
        elif isinstance(definition, ast.Assign | ast.AnnAssign) and definition.value is not None:
            self.add(index, owner, definition.value, depth + 1)
        else:
            self.names.add("other")


def _kind_from_hints(hints: _Hints) -> dict[str, Any]:
    """argparse's view of a dataclass field, in ``_compute_kwargs``'s order of precedence."""
    kinds = hints.names
    if "dataclass" in kinds:
        return {"kind": "json"}
    if kinds == {"bool", "str", "None"}:
        return {"kind": "str", "optional_value": True}
    if "bool" in kinds:
        return {"kind": "bool", "negatable": True}
    if "Literal" in kinds and "str" in kinds:  # Literal[...] | str: open to registered plugins
        return {"kind": "str"}
    if "Literal" in kinds:
        return {"kind": "choice", "choices": sorted({str(choice) for choice in hints.choices})}
    if kinds & {"tuple", "list", "set"}:
        return {"kind": "list"}
    if "int" in kinds:
        return {"kind": "int"}
    if "float" in kinds:
        return {"kind": "float"}
    if "dict" in kinds:
        return {"kind": "json"}
    return {"kind": "str"}


def _dataclass_fields(index: SourceIndex, module: _Module, cls: ast.ClassDef,
                      depth: int = 0) -> dict[str, tuple[_Module, ast.AnnAssign]]:
    """Fields of a (pydantic) dataclass including inherited ones, base classes first."""
    fields: dict[str, tuple[_Module, ast.AnnAssign]] = {}
    for base in cls.bases:
        found = index.resolve(module, _tail(base)) if depth < 8 else None
        if found and isinstance(found[1], ast.ClassDef):
            fields.update(_dataclass_fields(index, found[0], found[1], depth + 1))
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if "ClassVar" in ast.unparse(node.annotation) or "InitVar" in ast.unparse(node.annotation):
                continue
            fields[node.target.id] = (module, node)
    return fields


def _default(index: SourceIndex, module: _Module, node: ast.expr | None, depth: int = 0) -> Any:
    """A literal default, following ``field(default=X)``, ``EngineArgs.x`` and module constants;
    None when it is computed at run time."""
    if node is None or depth > 8:
        return None
    if isinstance(node, ast.Call) and _tail(node.func) in {"field", "Field"}:
        for keyword in node.keywords:
            if keyword.arg == "default":
                return _default(index, module, keyword.value, depth + 1)
        return None
    if isinstance(node, ast.Name):
        found = index.resolve(module, node.id)
        if found and isinstance(found[1], ast.Assign | ast.AnnAssign):
            return _default(index, found[0], found[1].value, depth + 1)
        return None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        found = index.resolve(module, node.value.id)
        if found and isinstance(found[1], ast.ClassDef):
            fields = _dataclass_fields(index, found[0], found[1])
            if node.attr in fields:
                owner, definition = fields[node.attr]
                return _default(index, owner, definition.value, depth + 1)
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, bool | int | float | str) else None


class ParserReader:
    """Collects ``vllm serve``'s long options from one release's sources."""

    def __init__(self, index: SourceIndex) -> None:
        self.index = index
        self.flags: dict[str, dict[str, Any]] = {}

    def read(self) -> dict[str, dict[str, Any]]:
        for module in self.index.modules.values():
            if not _PARSER_FILE.match(module.path):
                continue
            for function in ast.walk(module.tree):
                if isinstance(function, ast.FunctionDef) and function.name in _PARSER_FUNCTIONS:
                    self._read_function(module, function)
        return dict(sorted(self.flags.items()))

    def _read_function(self, module: _Module, function: ast.FunctionDef) -> None:
        classes: dict[str, tuple[_Module, ast.ClassDef]] = {}
        for node in ast.walk(function):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and _tail(node.value.func) == "get_kwargs" and node.value.args
                    and isinstance(node.targets[0], ast.Name)):
                found = self.index.resolve(module, _tail(node.value.args[0]))
                if found and isinstance(found[1], ast.ClassDef):
                    classes[node.targets[0].id] = (found[0], found[1])
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and _tail(node.func) == "add_argument":
                self._read_call(module, node, classes)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "add_cli_args"):
                self._read_generated(module, _tail(node.func.value))

    def _read_generated(self, module: _Module, class_name: str) -> None:
        """``SomeArgs.add_cli_args(parser)`` whose (inherited) method loops over every field."""
        found = self.index.resolve(module, class_name)
        if not found or not isinstance(found[1], ast.ClassDef):
            return
        owner, cls = found
        if not self._loops_over_fields(owner, cls):
            return
        for name, (field_module, node) in _dataclass_fields(self.index, owner, cls).items():
            hints = _Hints()
            hints.add(self.index, field_module, node.annotation)
            self._record(f"--{name.replace('_', '-')}", {**_kind_from_hints(hints),
                                                       "default": _default(self.index, field_module, node.value)},
                         field_module.path)

    def _loops_over_fields(self, module: _Module, cls: ast.ClassDef, depth: int = 0) -> bool:
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == "add_cli_args":
                return any(isinstance(loop, ast.For) and "add_argument" in ast.unparse(loop)
                           for loop in ast.walk(node))
        for base in cls.bases:
            found = self.index.resolve(module, _tail(base)) if depth < 8 else None
            if found and isinstance(found[1], ast.ClassDef) and self._loops_over_fields(found[0], found[1], depth + 1):
                return True
        return False

    def _read_call(self, module: _Module, call: ast.Call,
                   classes: dict[str, tuple[_Module, ast.ClassDef]]) -> None:
        names = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        long_names = [name for name in names if name.startswith("--")]
        if not long_names:
            return
        facts: dict[str, Any] = {"kind": "str"}
        explicit: dict[str, ast.expr] = {}
        for keyword in call.keywords:
            if keyword.arg is not None:
                explicit[keyword.arg] = keyword.value
            elif isinstance(keyword.value, ast.Dict):  # **{**kwargs["x"], "default": None}
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if key is None:
                        facts.update(self._from_field(value, classes))
                    elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                        explicit[key.value] = value
            else:
                facts.update(self._from_field(keyword.value, classes))
        facts.update(_explicit_kind(explicit))
        help_text = ast.unparse(explicit["help"]) if "help" in explicit else ""
        if (re.search(r"\[deprecated\]|is deprecated|deprecated:", help_text.lower())
                or ast.unparse(explicit.get("deprecated", ast.Constant(False))) == "True"):
            facts["deprecated"] = True
        if "default" in explicit:
            facts["default"] = _default(self.index, module, explicit["default"])
        short_names = sorted(name for name in names if not name.startswith("--") and name.startswith("-"))
        if short_names:
            facts["aliases"] = short_names
        self._record(long_names[0], facts, module.path)
        for alias in long_names[1:]:
            self._record(alias, dict(facts), module.path)

    def _from_field(self, node: ast.expr, classes: dict[str, tuple[_Module, ast.ClassDef]]) -> dict[str, Any]:
        """``**model_kwargs["max_model_len"]``: the kind of ModelConfig.max_model_len."""
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and isinstance(node.slice, ast.Constant) and node.value.id in classes):
            return {}
        owner, cls = classes[node.value.id]
        fields = _dataclass_fields(self.index, owner, cls)
        name = node.slice.value
        if name not in fields:
            return {}
        field_module, definition = fields[name]
        hints = _Hints()
        hints.add(self.index, field_module, definition.annotation)
        return {**_kind_from_hints(hints), "default": _default(self.index, field_module, definition.value)}

    def _record(self, name: str, facts: dict[str, Any], source: str) -> None:
        facts = {key: value for key, value in facts.items() if value is not None}
        if facts["kind"] == "bool":
            facts.setdefault("negatable", False)
        facts["source"] = source
        self.flags.setdefault(name, facts)


def _explicit_kind(keywords: dict[str, ast.expr]) -> dict[str, Any]:
    """What explicit ``action=``/``type=``/``nargs=``/``choices=`` say, over any field kwargs."""
    facts: dict[str, Any] = {}
    action = keywords.get("action")
    action_text = ast.unparse(action) if action is not None else ""
    if action_text in {"'store_true'", "'store_false'"}:
        return {"kind": "bool", "negatable": False}
    if "BooleanOptionalAction" in action_text:
        return {"kind": "bool", "negatable": True}
    if action_text == "'append'":
        facts["kind"] = "list"
    kind_type = keywords.get("type")
    if kind_type is not None:
        text = ast.unparse(kind_type)
        if "json" in text or "dict" in text:
            facts["kind"] = "json"
        elif re.search(r"\bint\b|human_readable_int", text):
            facts["kind"] = "int"
        elif re.search(r"\bfloat\b", text):
            facts["kind"] = "float"
        else:
            facts["kind"] = "str"
    nargs = keywords.get("nargs")
    if nargs is not None and ast.unparse(nargs) in {"'+'", "'*'"}:
        facts["kind"] = "list"
    elif nargs is not None and ast.unparse(nargs) == "'?'":
        facts["optional_value"] = True
    choices = keywords.get("choices")
    if isinstance(choices, ast.List | ast.Tuple | ast.Set):
        values = [element.value for element in choices.elts if isinstance(element, ast.Constant)]
        if values and len(values) == len(choices.elts):
            facts.update(kind="choice", choices=sorted({str(value) for value in values if value is not None}))
    return facts


def read_metrics(index: SourceIndex) -> dict[str, dict[str, Any]]:
    """``vllm:*`` metrics created by the metrics modules, with hidden and deprecated marks."""
    metrics: dict[str, dict[str, Any]] = {}
    for module in index.modules.values():
        if not _METRIC_FILE.match(module.path):
            continue
        parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(module.tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            metric_type = _metric_type(ast.unparse(node.func))
            name = _metric_name(node)
            if metric_type is None or name is None:
                continue
            documentation = " ".join(ast.unparse(keyword.value) for keyword in node.keywords
                                     if keyword.arg == "documentation")
            facts: dict[str, Any] = {"type": metric_type, "source": module.path}
            if _under_hidden_guard(node, parents):
                facts["hidden"] = True
            if "DEPRECATED" in documentation.upper():
                facts["deprecated"] = True
                replacement = [other for other in re.findall(r"vllm:\w+", documentation) if other != name]
                if replacement:
                    facts["replaced_by"] = replacement[0]
            previous = metrics.get(name)
            if previous is None or (previous.get("hidden") and not facts.get("hidden")):
                metrics[name] = facts
    return dict(sorted(metrics.items()))


def _metric_type(function: str) -> str | None:
    lowered = function.lower()
    for metric_type in ("gauge", "counter", "histogram"):
        if metric_type in lowered:
            return metric_type
    return None


def _metric_name(call: ast.Call) -> str | None:
    candidates = [keyword.value for keyword in call.keywords if keyword.arg == "name"] + call.args[:1]
    for candidate in candidates:
        if (isinstance(candidate, ast.Constant) and isinstance(candidate.value, str)
                and candidate.value.startswith("vllm:")):
            return candidate.value
    return None


def _under_hidden_guard(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    current = node
    while current in parents:
        parent = parents[current]
        if isinstance(parent, ast.If) and "show_hidden_metrics" in ast.unparse(parent.test) and current in parent.body:
            return True
        current = parent
    return False


def spans(versions: list[str], per_release: dict[str, dict[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per fact name, runs of consecutive releases with identical facts: ``{"from", "to", ...}``."""
    names = sorted({name for facts in per_release.values() for name in facts})
    result: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        runs: list[dict[str, Any]] = []
        for version in versions:
            facts = per_release[version].get(name)
            if facts is None:
                continue
            facts = dict(facts)
            source = facts.pop("source")
            last = runs[-1] if runs else None
            if last and last["to"] == versions[versions.index(version) - 1] and _same(last, facts):
                last["to"] = version
                if source not in last["sources"]:
                    last["sources"].append(source)
            else:
                runs.append({"from": version, "to": version, **facts, "sources": [source]})
        result[name] = runs
    return result


def _same(run: dict[str, Any], facts: dict[str, Any]) -> bool:
    return {key: value for key, value in run.items() if key not in {"from", "to", "sources"}} == facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vllm-release-sources"))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args()
    flags: dict[str, dict[str, dict[str, Any]]] = {}
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    with httpx.Client(timeout=120, follow_redirects=True) as client:
        found = releases(client)
        for release in found:
            index = SourceIndex(fetch_sources(client, release, options.cache))
            flags[release.version] = ParserReader(index).read()
            metrics[release.version] = read_metrics(index)
            print(f"{release.version}: {len(flags[release.version])} flags, "
                  f"{len(metrics[release.version])} metrics", file=sys.stderr)
    versions = [release.version for release in found]
    catalog = {
        "about": ("vLLM releases from PyPI with the `vllm serve` options and Prometheus metrics each one "
                  "defines, read from the release's own wheel by tools/vllm_release_catalog.py. "
                  "Spans name the first and last release with the same facts."),
        "releases": [{"version": r.version, "date": r.date, "wheel": r.wheel, "sha256": r.sha256}
                     for r in found],
        "flags": spans(versions, flags),
        "metrics": spans(versions, metrics),
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(catalog, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
