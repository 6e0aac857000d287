"""Read rendered YAML (files, directories or stdin) into objects that remember where they came from.

Loading uses ruamel.yaml's C parser. Line numbers of fields inside an object are resolved lazily,
by re-composing only the documents that have findings, so checking a large tree stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
STDIN = "-"


@dataclass(frozen=True)
class LoadProblem:
    """Input that could not be read as Kubernetes objects."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else f"{self.source}: {self.message}"


@dataclass(eq=False)
class SourceObject:
    """One Kubernetes object and its origin."""

    manifest: dict[str, Any]
    source: str
    document: int
    """Index of the YAML document inside ``source`` (among non-empty documents)."""
    item: int | None = None
    """Index inside ``items`` when the document is a ``List``."""
    _text: str = field(default="", repr=False)

    @property
    def kind(self) -> str:
        """``kind``."""
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return str((self.manifest.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        """``metadata.namespace`` ('' when unset)."""
        return str((self.manifest.get("metadata") or {}).get("namespace", ""))

    def line_of(self, path: Iterable[str | int] = ()) -> int:
        """Line of the deepest existing node along ``path`` (the object's first line for ``()``)."""
        nodes = _compose(self._text)
        if self.document >= len(nodes):
            return 1
        node: Node | None = nodes[self.document]
        if self.item is not None:
            node = _child(_child(node, "items"), self.item)
        if node is None:
            return 1
        line = int(node.start_mark.line) + 1
        for part in path:
            node = _child(node, part)
            if node is None:
                break
            line = int(node.start_mark.line) + 1
        return line


@lru_cache(maxsize=64)
def _compose(text: str) -> list[Node]:
    """Node trees (with line marks) of a stream's non-empty documents; only built for findings."""
    return [node for node in YAML(typ="safe").compose_all(text) if node is not None and not _is_null(node)]


def _is_null(node: Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


def _child(node: Node | None, part: str | int) -> Node | None:
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                child: Node = value
                return child
    if isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: Node = node.value[part]
        return item
    return None


def parse_text(text: str, source: str) -> tuple[list[SourceObject], list[LoadProblem]]:
    """Objects in one YAML stream; duplicate keys and syntax errors are problems."""
    try:
        documents = list(YAML(typ="safe").load_all(text))
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        return [], [LoadProblem(source, line, f"YAML error: {problem}")]
    except YAMLError as exc:
        return [], [LoadProblem(source, None, f"YAML error: {exc}")]
    return _objects(documents, text, source)


def _objects(documents: list[Any], text: str, source: str) -> tuple[list[SourceObject], list[LoadProblem]]:
    documents = [doc for doc in documents if doc is not None]
    objects, problems = [], []
    for index, document in enumerate(documents):
        if not isinstance(document, Mapping) or "kind" not in document or "apiVersion" not in document:
            line = SourceObject({}, source, index, None, text).line_of()
            problems.append(LoadProblem(source, line, f"document {index + 1} is not a Kubernetes object (needs "
                                                      "apiVersion and kind)"))
        elif str(document["kind"]).endswith("List") and isinstance(document.get("items"), list):
            objects += [SourceObject(dict(item), source, index, position, text)
                        for position, item in enumerate(document["items"]) if isinstance(item, Mapping)]
        else:
            objects.append(SourceObject(dict(document), source, index, None, text))
    return objects, problems


def yaml_files(path: Path) -> list[Path]:
    """YAML files under a directory (sorted; kustomization files are build inputs, not objects)."""
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES
                  and p.name not in KUSTOMIZATION_FILES)


def load(inputs: Iterable[str]) -> tuple[list[SourceObject], list[LoadProblem]]:
    """Objects from files, directories (recursively) and ``-`` (stdin)."""
    objects: list[SourceObject] = []
    problems: list[LoadProblem] = []
    for entry in inputs:
        if entry == STDIN:
            found, trouble = parse_text(sys.stdin.read(), "<stdin>")
            objects += found
            problems += trouble
            continue
        path = Path(entry)
        if path.is_dir():
            files = yaml_files(path)
            if not files:
                problems.append(LoadProblem(entry, None, "no YAML files in directory"))
        elif path.exists():
            files = [path]
        else:
            problems.append(LoadProblem(entry, None, "no such file or directory"))
            continue
        for file in files:
            found, trouble = _load_file(file)
            objects += found
            problems += trouble
    return objects, problems


def _load_file(file: Path) -> tuple[list[SourceObject], list[LoadProblem]]:
    try:
        text = file.read_bytes().decode()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [LoadProblem(str(file), None, f"cannot read: {exc}")]
    return parse_text(text, str(file))
