"""Read Pulumi stack files (``stacks/Pulumi.<stack>.yaml``) into validated fleets.

The fleet lives under one structured config key, ``vllm-infra:fleet``. The CLI reads the file
directly (with line numbers for every problem); the Pulumi program passes the same value from
``pulumi.Config``. Both go through ``fleet_from_config``, so both accept and reject the same input.

Stack files are YAML 1.2 as ruamel.yaml reads it (``serialization.yaml12`` gives the same objects
faster when it can), not Kubernetes' YAML 1.1: here ``yes`` is a string and ``0644`` is 644.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from vllm_infra.serialization import yaml12
from vllm_infra.serialization.files import read_limited
from vllm_infra.serialization.kubernetes_yaml import bounds_error
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.credentials import redacted, scrub
from vllm_infra.vocabulary.paths import format_path

PROJECT = "vllm-infra"
FLEET_KEY = f"{PROJECT}:fleet"
STACK_FILE = re.compile(r"^Pulumi\.(.+)\.yaml$")
STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")
"""A stack name that is safe as a directory name: no leading dot, no ``..``, no separators."""

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a stack's configuration, located as precisely as the source allows."""

    source: str
    line: int | None
    path: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return scrub(f"{text} (got {self.value})" if self.value is not None else text)


class StackConfigError(Exception):
    """A stack cannot be loaded; ``problems`` lists every reason found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def find_stacks(stacks_dir: Path) -> dict[str, Path]:
    """Stack name -> file for every ``Pulumi.<stack>.yaml`` in ``stacks_dir``, sorted by name."""
    if not stacks_dir.is_dir():
        return {}
    found = {match.group(1): path for path in stacks_dir.iterdir() if (match := STACK_FILE.match(path.name))}
    unsafe = [ConfigProblem(str(path), None, "", f"stack name {name!r} cannot name an output directory: use "
                                                 "letters, digits, '-', '_' and inner dots")
              for name, path in sorted(found.items()) if len(name) > 100 or not STACK_NAME.match(name)]
    if unsafe:
        raise StackConfigError(unsafe)
    return dict(sorted(found.items()))


def _plain(node: Any) -> Any:
    """ruamel round-trip nodes -> plain dict/list/scalars (what ``pulumi.Config`` returns)."""
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def load_stack(path: Path) -> FleetSpec:
    """Parse and validate one stack file; raises StackConfigError listing every problem.

    The fast safe loader reads the file; only when validation fails is it re-read with the
    round-trip loader (several times slower), whose node positions give each problem its line.
    """
    source = str(path)
    if not path.exists() and not path.is_symlink():
        raise StackConfigError([ConfigProblem(source, None, "", "stack file not found")])
    try:
        text = read_limited(path).decode()
    except UnicodeDecodeError:
        raise StackConfigError([ConfigProblem(source, None, "", "cannot read the file: not valid UTF-8")]) from None
    except OSError as exc:
        raise StackConfigError([ConfigProblem(source, None, "", f"cannot read the file: {exc}")]) from None
    oversized = bounds_error(text)
    if oversized is not None:
        raise StackConfigError([ConfigProblem(source, oversized.line, "", oversized.message)])
    try:
        return fleet_from_config(_fleet_config(text, source, "safe")[FLEET_KEY], source)
    except StackConfigError:
        config = _fleet_config(text, source, "rt")
        node = config[FLEET_KEY]
        return fleet_from_config(_plain(node), source, _LineFinder(node, config.lc.key(FLEET_KEY)[0] + 1))


def _fleet_config(text: str, source: str, loader: str) -> Any:
    """The ``config`` mapping of a stack file, which must hold the fleet key."""
    fast = yaml12.read(text) if loader == "safe" else None
    try:
        document = fast if fast is not None else YAML(typ=loader).load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise StackConfigError([ConfigProblem(source, line, "", f"YAML syntax error: {problem}")]) from None
    except YAMLError as exc:
        raise StackConfigError([ConfigProblem(source, None, "", f"YAML syntax error: {exc}")]) from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict) or FLEET_KEY not in config:
        raise StackConfigError([ConfigProblem(source, None, "", f"no '{FLEET_KEY}' key under 'config'")])
    return config


class _LineFinder:
    """Maps a pydantic error location to a line in the YAML source (and to ``defaults`` when the
    offending value was inherited from there)."""

    def __init__(self, root: Any, root_line: int) -> None:
        self.root, self.root_line = root, root_line

    @staticmethod
    def _walk(node: Any, loc: Loc, line: int) -> tuple[int, int]:
        depth = 0
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line, node = node.lc.key(part)[0] + 1, node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line, node = node.lc.item(part)[0] + 1, node[part]
            else:
                break
            depth += 1
        return line, depth

    def locate(self, loc: Loc) -> tuple[Loc, int]:
        """(location to report, line) for a loc relative to the fleet."""
        line, depth = self._walk(self.root, loc, self.root_line)
        defaults = self.root.get("defaults") if isinstance(self.root, CommentedMap) else None
        if len(loc) >= 3 and loc[0] == "services" and depth < len(loc) and isinstance(defaults, CommentedMap):
            default_line, default_depth = self._walk(defaults, loc[2:], 0)
            if default_depth > depth - 2:
                return ("defaults", *loc[2:]), default_line
        return loc, line


def _field_models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside ``X``, ``X | None``, ``list[X]``, ``dict[str, X]`` or a tagged
    union of models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _field_models(typing.get_args(annotation)[0])
    if isinstance(annotation, types.UnionType) or origin in (typing.Union, list, dict):
        return [model for arg in typing.get_args(annotation) for model in _field_models(arg)]
    return []


def _models_at(loc: Loc) -> list[type[BaseModel]]:
    """The models that may hold the mapping containing ``loc`` (several for a tagged union)."""
    models: list[type[BaseModel]] = [FleetSpec]
    parts = list(loc[:-1])
    if parts[:1] == ["defaults"]:
        parts = ["services", 0, *parts[1:]]
    for part in parts:
        if isinstance(part, int):
            continue
        fields = [model.model_fields[part] for model in models if part in model.model_fields]
        models = [found for field in fields for found in _field_models(field.annotation)]
    return models


def _known_fields(models: list[type[BaseModel]]) -> list[str]:
    """Field names the models accept (for "did you mean")."""
    names = {field.alias or name: None for model in models for name, field in model.model_fields.items()}
    return [*names, *(["defaults"] if FleetSpec in models else [])]


def _unknown_field(loc: Loc) -> str:
    """Why a key is not accepted: another variant of a tagged union has it, or a likely typo."""
    field, models = str(loc[-1]) if loc else "", _models_at(loc)
    variants = [typing.get_args(model.model_fields["backend"].annotation)[0] for model in models
                if field in model.model_fields and "backend" in model.model_fields]
    if variants:
        return f"only used with backend: {', '.join(variants)}"
    guess = difflib.get_close_matches(field, _known_fields(models), n=1)
    return "unknown field" + (f" (did you mean '{guess[0]}'?)" if guess else "")


def _describe(error: Any, loc: Loc) -> tuple[str, str | None]:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return _unknown_field(loc), None
    if kind == "missing":
        return "required field is missing", None
    message = error["msg"].removeprefix("Value error, ")
    shown = repr(value) if value is not None and not isinstance(value, dict | list) else None
    if shown is not None and len(shown) > 80:
        shown = shown[:77] + "..."
    if shown is not None and redacted(shown, format_path(loc)) != shown:
        shown = "<redacted: it may be a credential>"
    return message, shown


def fleet_from_config(raw: Any, source: str = f"config {FLEET_KEY}", lines: _LineFinder | None = None) -> FleetSpec:
    """Validate a fleet given as plain data; raises StackConfigError with one problem per error."""
    try:
        return FleetSpec.model_validate(raw)
    except ValidationError as exc:
        problems: dict[tuple[str, str], ConfigProblem] = {}
        for error in exc.errors():
            loc: Loc = tuple(error["loc"])
            line = None
            if lines is not None:
                loc, line = lines.locate(loc)
            message, value = _describe(error, loc)
            path = format_path(loc)
            problems.setdefault((path, message), ConfigProblem(source, line, path, message, value))
        ordered = sorted(problems.values(), key=lambda problem: (problem.line or 0, problem.path))
        raise StackConfigError(ordered) from None
