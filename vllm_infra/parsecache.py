"""Parsed-manifest cache: ``check`` right after ``synth`` skips re-parsing the YAML synth wrote.

Parsing YAML in Python is the slowest step of checking a large tree (ruamel.yaml builds every
scalar through Python code). synth knows the object behind each file it writes, and the YAML
writer guarantees that parsing the file gives that object back, so it records, per output
directory, each file's SHA-256 and its documents. The loader uses an entry only when the file on
disk hashes to the recorded value; any other file is parsed as usual. The cache is best effort:
unreadable, stale or foreign packs are ignored and write failures are silent.

Location: ``$VLLM_INFRA_CACHE_DIR``, else ``$XDG_CACHE_HOME/vllm-infra``, else
``~/.cache/vllm-infra``; ``VLLM_INFRA_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

_FORMAT = 1


def _stamp() -> list[Any]:
    """Packs from another vllm-infra or ruamel.yaml version may parse differently: ignore them."""
    return [_FORMAT, version("vllm-infra"), version("ruamel.yaml")]


def cache_root() -> Path | None:
    """The cache directory, or None when caching is off."""
    if os.environ.get("VLLM_INFRA_NO_CACHE", "") not in ("", "0"):
        return None
    if explicit := os.environ.get("VLLM_INFRA_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vllm-infra"


def digest(content: bytes) -> str:
    """Content key of one file."""
    return hashlib.sha256(content).hexdigest()


def _pack_path(root: Path, directory: Path) -> Path:
    key = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:32]
    return root / "parsed" / f"{key}.json"


def record(directory: Path, files: Mapping[str, bytes], documents: Mapping[str, list[Any]]) -> None:
    """Remember that ``directory/name`` holding ``files[name]`` parses to ``documents[name]``."""
    root = cache_root()
    if root is None:
        return
    pack = {"stamp": _stamp(),
            "files": {name: [digest(files[name]), docs] for name, docs in documents.items() if name in files}}
    path = _pack_path(root, directory)
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".pack-", dir=path.parent)
        temporary = Path(name)
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(pack, separators=(",", ":")))  # dumps uses the C encoder, dump does not
        temporary.replace(path)
    except (OSError, TypeError, ValueError):
        if temporary is not None:
            temporary.unlink(missing_ok=True)


class PackReader:
    """Cached documents of the files in one directory, loaded on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, list[Any]] | None = None

    def _load(self) -> dict[str, list[Any]]:
        root = cache_root()
        if root is None:
            return {}
        try:
            pack = json.loads(_pack_path(root, self.directory).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(pack, dict) or pack.get("stamp") != _stamp() or not isinstance(pack.get("files"), dict):
            return {}
        files: dict[str, list[Any]] = pack["files"]
        return files

    def documents(self, name: str, content: bytes) -> list[Any] | None:
        """The documents of ``name`` if the cache has them for exactly this content."""
        if self._files is None:
            self._files = self._load()
        entry = self._files.get(name)
        if not isinstance(entry, list) or len(entry) != 2 or entry[0] != digest(content):
            return None
        docs: list[Any] = entry[1]
        return docs
