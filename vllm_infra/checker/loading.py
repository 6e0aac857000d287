"""Read manifests (files, directories or stdin) the way Kubernetes reads them, into objects that
remember where they came from.

Files are read one at a time (``iter_files``), so ``validate`` holds one file's objects at once.
No text is kept for files: the line of a field is looked up lazily, by reading the file again,
and only for documents that have findings.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from vllm_infra.serialization.files import MAX_FILE_BYTES, STAGING_DIRECTORY, read_limited, unreadable_reason
from vllm_infra.serialization.kubernetes_yaml import (
    Document,
    DuplicateKey,
    Stream,
    line_index,
    read_stream,
    read_streams,
)
from vllm_infra.vocabulary.credentials import scrub
from vllm_infra.vocabulary.markers import STACK_MARKER, STAGING_MARKER, StackMarker, read_marker
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.progress import SILENT, Progress

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
"""Read in any letter case."""
KUSTOMIZE_API_GROUP = "kustomize.config.k8s.io/"
"""Kustomization (and Component) documents are build inputs, not objects: dropped by content, so a
file named kustomization.yaml that holds a Deployment is still checked."""
STDIN = "-"
STDIN_LABEL = "<stdin>"


@dataclass(frozen=True)
class LoadProblem:
    """Input that could not be read as Kubernetes objects."""

    source: str
    line: int | None
    message: str
    argument: bool = False
    unread: bool = False
    """The file was never read (a dangling link, a FIFO, too large, unreadable), as opposed to read
    and not understood."""
    """The path given cannot be read at all (a usage error), rather than a file's content."""

    def __str__(self) -> str:
        return scrub(f"{self.source}:{self.line}: {self.message}" if self.line else f"{self.source}: {self.message}")


@dataclass(frozen=True)
class FileText:
    """A file's text, read again when a line number is needed (picklable, so a location can leave
    a forked child)."""

    path: str
    """As the location names it (a string: 100,000 ``Path`` objects would cost 45 MB)."""

    def __call__(self) -> str:
        try:
            return Path(self.path).read_text()
        except (OSError, UnicodeDecodeError):
            return ""


@dataclass(frozen=True)
class HeldText:
    """Text held in memory (stdin, a rendered stream)."""

    text: str

    def __call__(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False, slots=True)
class Location:
    """Where an object was read from, without the object itself (what reports keep)."""

    source: str
    document: int
    """Index of the document inside ``source`` (among non-empty documents)."""
    item: tuple[int, ...] | None
    """Index inside ``items`` when the document is a ``List``."""
    kind: str
    name: str
    namespace: str
    text: Callable[[], str] = field(repr=False)
    """The source text, read again when a line number is needed."""

    def line_of(self, path: Iterable[str | int] = ()) -> int:
        """Line of the deepest existing node along ``path`` (the object's first line for ``()``)."""
        prefix: FieldPath = tuple(part for index in self.item or () for part in ("items", index))
        return _lines(self.text, self.document)((*prefix, *path))


def _identity(manifest: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = manifest.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    return str(manifest.get("kind", "")), str(meta.get("name", "")), str(meta.get("namespace", ""))


@dataclass(eq=False, slots=True)
class SourceObject:
    """One Kubernetes object and its origin."""

    manifest: dict[str, Any]
    location: Location
    duplicates: tuple[DuplicateKey, ...] = ()
    """Keys given twice in this object's document (Kubernetes kept the last value)."""

    @classmethod
    def read(cls, manifest: Mapping[str, Any], source: str, document: int, item: tuple[int, ...] | None = None,
             text: Callable[[], str] = HeldText(""), duplicates: tuple[DuplicateKey, ...] = ()) -> SourceObject:
        """An object with its location."""
        location = Location(source, document, item, *_identity(manifest), text)
        return cls(manifest if type(manifest) is dict else dict(manifest), location, duplicates)

    @property
    def source(self) -> str:
        """The file (or ``<stdin>``) the object came from."""
        return self.location.source

    @property
    def kind(self) -> str:
        """``kind``."""
        return self.location.kind

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self.location.name

    @property
    def namespace(self) -> str:
        """``metadata.namespace`` ('' when unset)."""
        return self.location.namespace

    def line_of(self, path: Iterable[str | int] = ()) -> int:
        """Line of the deepest existing node along ``path``."""
        return self.location.line_of(path)


@lru_cache(maxsize=64)
def _lines(text: Callable[[], str], document: int) -> Callable[[FieldPath], int]:
    """The line index of one document, built once per document that has findings."""
    return line_index(text(), document)


_PLACEHOLDER = re.compile(r"(?<=[:-] )\{\{[^{}\n]*\}\}(?=[ \t]*(?:#.*)?$)", re.MULTILINE)
"""A template expression (Helm, Jinja, Go templates) where a value starts: YAML reads it as a
nested flow mapping, which Kubernetes cannot use as a key, so the whole file is refused."""


def _unrendered(source: str, text: Callable[[], str]) -> tuple[Stream, Callable[[], str], list[LoadProblem]] | None:
    """The stream read again with each placeholder as a quoted string, so the rest of the file
    is still checked; None when that does not make it readable."""
    raw = text()
    placeholders = list(_PLACEHOLDER.finditer(raw))
    if not placeholders:
        return None
    rendered = _PLACEHOLDER.sub(lambda match: json.dumps(match.group()), raw)
    again = read_stream(rendered)
    if again.error is not None:
        return None
    problems = [LoadProblem(source, raw.count("\n", 0, match.start()) + 1,
                            f"unrendered template placeholder {match.group()}: Kubernetes cannot read this file "
                            "(render the template first; the rest was checked with it read as text)")
                for match in placeholders]
    return again, HeldText(rendered), problems


def _objects(stream: Stream, source: str, text: Callable[[], str]) -> tuple[list[SourceObject], list[LoadProblem]]:
    objects: list[SourceObject] = []
    problems: list[LoadProblem] = []
    if stream.error is not None and (retry := _unrendered(source, text)) is not None:
        stream, text, problems = retry
    for document in stream.documents:
        found, trouble = _document_objects(document, source, text)
        objects += found
        problems += trouble
    if stream.error is not None:
        problems.append(LoadProblem(source, stream.error.line, f"YAML error: {stream.error.message}"))
    return objects, problems


def _document_objects(document: Document, source: str, text: Callable[[], str],
                      ) -> tuple[list[SourceObject], list[LoadProblem]]:
    value = document.value
    if isinstance(value, Mapping) and str(value.get("apiVersion", "")).startswith(KUSTOMIZE_API_GROUP):
        return [], []
    if not isinstance(value, Mapping) or "kind" not in value or "apiVersion" not in value:
        line = _lines(text, document.index)(())
        return [], [LoadProblem(source, line, f"document {document.index + 1} is not a Kubernetes object (needs "
                                              "apiVersion and kind)")]
    return [SourceObject.read(item, source, document.index, where or None, text, document.duplicates)
            for where, item in _listed(value, ())], []


def _listed(value: Mapping[str, Any], where: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], Mapping[str, Any]]]:
    """The objects of a document: a ``*List`` is flattened, nested ones too, as kubectl does until
    no list is left (bounded by the nesting limit the YAML reader enforces)."""
    if str(value.get("kind", "")).endswith("List") and isinstance(value.get("items"), list):
        for position, item in enumerate(value["items"]):
            if isinstance(item, Mapping):
                yield from _listed(item, (*where, position))
    else:
        yield where, value


def _synth_staging(directory: Path) -> bool:
    """A directory synth is writing, or an old tree it is replacing (see ``STAGING_MARKER``)."""
    if not STAGING_DIRECTORY.match(directory.name):
        return False
    if (directory / STAGING_MARKER).is_file():
        return True
    try:
        marker = read_marker((directory / STACK_MARKER).read_text()[:4096])
    except (OSError, UnicodeDecodeError):
        return False
    return marker is not None and directory.name.startswith(f".{marker.stack}.")


def manifest_files(path: Path) -> list[Path | LoadProblem]:
    """Manifest files under a directory, sorted, with a problem for every entry that looks like one
    but cannot be read (dangling links, FIFOs and devices, unreadable directories, a link back into
    a directory already walked): nothing is skipped silently. Links to directories are followed,
    as ``kubectl apply -R -f`` follows them; only synth's own staging directories are left out."""
    found: list[Path | LoadProblem] = []
    walked: set[str] = set()

    def unreadable(error: OSError) -> None:
        found.append(LoadProblem(str(error.filename or path), None, f"cannot read directory: {error.strerror}",
                                 unread=True))

    for directory, dirs, names in os.walk(path, onerror=unreadable, followlinks=True):
        walked.add(os.path.realpath(directory))
        kept = []
        for name in dirs:
            child = Path(directory) / name
            if _synth_staging(child):
                continue
            if os.path.realpath(child) in walked or os.path.realpath(child) == os.path.realpath(path):
                found.append(LoadProblem(str(child), None, "link back into a directory already read (a loop)",
                                         unread=True))
                continue
            kept.append(name)
        dirs[:] = kept
        for name in names:
            candidate = Path(directory) / name
            if candidate.suffix.lower() not in MANIFEST_SUFFIXES:
                continue
            problem = _not_readable(candidate)
            found.append(problem or candidate)
    return sorted(found, key=lambda item: item.source if isinstance(item, LoadProblem) else str(item))


def _not_readable(path: Path) -> LoadProblem | None:
    """Why ``path`` will not be read as a manifest file, if it will not."""
    reason = unreadable_reason(path)
    return LoadProblem(str(path), None, reason, unread=True) if reason else None


Unit = str | HeldText | LoadProblem
"""One input: a file's path (a string: 100,000 ``Path`` objects would cost 45 MB, and each forked
child would copy the pages it touches), stdin's text, or why an input gives nothing."""


def _read_all(units: Sequence[Unit], duplicates: bool = True) -> Iterator[Stream | LoadProblem]:
    """A stream (or the reason there is none) for each unit, in order and lazily; fast-path
    documents are decoded in batches across files (see ``read_streams``)."""
    unreadable: dict[int, LoadProblem] = {}

    def texts() -> Iterator[tuple[int, str]]:
        for index, unit in enumerate(units):
            if isinstance(unit, HeldText):
                yield index, unit.text
            elif isinstance(unit, str):
                try:
                    yield index, read_limited(Path(unit)).decode()
                except (OSError, UnicodeDecodeError) as exc:
                    reason = "not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
                    unreadable[index] = LoadProblem(unit, None, f"cannot read: {reason}", unread=True)
            else:
                unreadable[index] = unit

    upcoming = 0
    for index, stream in read_streams(texts(), duplicates=duplicates):
        while upcoming < index:
            yield unreadable.pop(upcoming)
            upcoming += 1
        yield stream
        upcoming = index + 1
    while upcoming < len(units):
        yield unreadable.pop(upcoming)
        upcoming += 1


def _inputs(inputs: Iterable[str]) -> Iterator[Unit]:
    """Files to read, stdin's text, or why an input gives nothing."""
    for entry in inputs:
        if entry == STDIN:
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
            try:
                yield HeldText(data.decode()) if len(data) <= MAX_FILE_BYTES else LoadProblem(
                    STDIN_LABEL, None, f"larger than the {MAX_FILE_BYTES // 2**20} MiB limit for one file", unread=True)
            except UnicodeDecodeError:
                yield LoadProblem(STDIN_LABEL, None, "cannot read: not valid UTF-8", unread=True)
            continue
        path = Path(entry)
        if path.is_dir():
            files = manifest_files(path)
            if not files:
                yield LoadProblem(entry, None, "no manifest files in directory", argument=True)
            yield from (str(item) if isinstance(item, Path) else item for item in files)
        elif path.exists() or path.is_symlink():
            yield _not_readable(path) or str(path)
        else:
            yield LoadProblem(entry, None, "no such file or directory", argument=True)


def input_units(inputs: Iterable[str]) -> list[Unit]:
    """Files to read (directories expanded), stdin's text, or why an input gives nothing."""
    return list(_inputs(inputs))


def read_units(units: Sequence[Unit], duplicates: bool = True,
               ) -> Iterator[tuple[list[SourceObject], list[LoadProblem]]]:
    """Objects and problems of each unit, in order, in this process."""
    for unit, read in zip(units, _read_all(list(units), duplicates), strict=True):
        if isinstance(read, LoadProblem):
            yield [], [read]
        elif isinstance(unit, HeldText):
            yield _objects(read, STDIN_LABEL, unit)
        elif isinstance(unit, str):
            yield _objects(read, unit, FileText(unit))


def iter_inputs(inputs: Iterable[str], *, duplicates: bool = True, progress: Progress = SILENT,
                label: str = "reading manifests") -> Iterator[tuple[list[SourceObject], list[LoadProblem]]]:
    """Objects and problems of the inputs (files, directories recursively, ``-`` for stdin), a
    stream at a time; ``progress`` counts files under ``label``. Without ``duplicates``, keys given
    twice are not reported (see ``read_streams``)."""
    units = input_units(inputs)
    advance = progress.phase(label, len(units))
    for found in read_units(units, duplicates):
        advance(1)
        yield found


@dataclass(frozen=True)
class Loaded:
    """Every object of the inputs, the problems, and how many inputs (files, stdin) were taken up."""

    objects: list[SourceObject]
    problems: list[LoadProblem]
    inputs: int
    markers: dict[str, StackMarker] = field(default_factory=dict)
    """Directories synth rendered (by path as the sources name them) and what their marker says."""

    def marker_of(self, source: str) -> StackMarker | None:
        """The marker of the innermost rendered tree holding ``source``."""
        return next((self.markers[str(parent)] for parent in Path(source).parents if str(parent) in self.markers),
                    None)


def stack_markers(inputs: Iterable[str]) -> dict[str, StackMarker]:
    """The stack markers (``vocabulary.markers``) in the input directories, and around input files."""
    found: dict[str, StackMarker] = {}

    def read(directory: Path) -> None:
        try:
            marker = read_marker((directory / STACK_MARKER).read_text()[:4096])
        except (OSError, UnicodeDecodeError):
            return
        if marker is not None:
            found[str(directory)] = marker

    for entry in inputs:
        path = Path(entry)
        if entry == STDIN:
            continue
        if path.is_dir():
            for directory, _dirs, names in os.walk(path):
                if STACK_MARKER in names:
                    read(Path(directory))
        else:  # a file inside a rendered tree, however deep
            holder = next((parent for parent in path.parents if (parent / STACK_MARKER).is_file()), None)
            if holder is not None:
                read(holder)
    return found


def read_inputs(inputs: Iterable[str], progress: Progress = SILENT) -> Loaded:
    """Every object of the inputs, counting the files and streams read or refused."""
    objects: list[SourceObject] = []
    problems: list[LoadProblem] = []
    count = 0
    inputs = list(inputs)
    for found, trouble in iter_inputs(inputs, progress=progress):
        objects += found
        problems += trouble
        count += 1
    return Loaded(objects, problems, count, stack_markers(inputs))


def load(inputs: Iterable[str], progress: Progress = SILENT) -> tuple[list[SourceObject], list[LoadProblem]]:
    """Every object of the inputs."""
    loaded = read_inputs(inputs, progress)
    return loaded.objects, loaded.problems

