"""``check`` settings a repository keeps in a file instead of on every command line: ``--config
FILE``, else ``.vllm-infra.yaml`` in the working directory, else ``[tool.vllm-infra]`` in its
``pyproject.toml``. Options given on the command line win over the file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_infra.vocabulary.reporting import Profile, Severity

CONFIG_FILE = ".vllm-infra.yaml"
PYPROJECT_TABLE = "vllm-infra"

_LISTS = ("rules", "exclude_rules", "exclude_paths", "schema_dirs")
_TEXTS = ("profile", "kubernetes_version", "fail_on", "baseline")
KEYS = (*_TEXTS, *_LISTS, "severity")
"""Every key the file may hold."""


class ConfigError(ValueError):
    """The configuration file cannot be used as written."""


@dataclass(frozen=True)
class CheckConfig:
    """What a configuration file says; empty when there is none."""

    source: str | None = None
    profile: Profile | None = None
    kubernetes_version: str | None = None
    fail_on: Severity | None = None
    rules: tuple[str, ...] | None = None
    """Run only these rules (default: all)."""
    exclude_rules: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    """Globs (fnmatch: ``*`` also crosses directories) matched against each file's path."""
    severity: dict[str, Severity] = field(default_factory=dict)
    """Severity per rule id, replacing the catalog's."""
    schema_dirs: tuple[str, ...] = ()
    baseline: str | None = None


def _choice(source: str, key: str, value: Any, kind: type[Profile] | type[Severity]) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        raise ConfigError(f"{source}: {key}: {value!r} is not one of {', '.join(member.value for member in kind)}") \
            from None


def _strings(source: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: {key}: expected a list of strings")
    return tuple(value)


def parse_config(data: Any, source: str) -> CheckConfig:
    """A configuration mapping, checked key by key (an unknown key is an error, not a silent no-op)."""
    if data is None:
        return CheckConfig(source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings")
    unknown = sorted(str(key) for key in data if key not in KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                          f"(known: {', '.join(KEYS)})")
    for key in _TEXTS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{source}: {key}: expected a string")
    severity = data.get("severity", {})
    if not isinstance(severity, dict):
        raise ConfigError(f"{source}: severity: expected a mapping of rule id to severity")
    return CheckConfig(
        source,
        profile=_choice(source, "profile", data["profile"], Profile) if "profile" in data else None,
        kubernetes_version=data.get("kubernetes_version"),
        fail_on=_choice(source, "fail_on", data["fail_on"], Severity) if "fail_on" in data else None,
        rules=_strings(source, "rules", data["rules"]) if "rules" in data else None,
        exclude_rules=_strings(source, "exclude_rules", data.get("exclude_rules", [])),
        exclude_paths=_strings(source, "exclude_paths", data.get("exclude_paths", [])),
        severity={str(rule): _choice(source, f"severity.{rule}", value, Severity) for rule, value in severity.items()},
        schema_dirs=_strings(source, "schema_dirs", data.get("schema_dirs", [])),
        baseline=data.get("baseline"))


def load_config(explicit: Path | None, directory: Path) -> CheckConfig:
    """The configuration in force: ``explicit``, else the file in ``directory``, else pyproject's table."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = explicit if explicit is not None else directory / CONFIG_FILE  # as given: messages name it so
    if explicit is not None or path.is_file():
        try:
            return parse_config(YAML(typ="safe").load(path.read_text()), str(path))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read: {error}") from None
        except YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text()).get("tool", {}).get(PYPROJECT_TABLE)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{pyproject}: cannot read: {error}") from None
        if table is not None:
            return parse_config(table, f"{pyproject} [tool.{PYPROJECT_TABLE}]")
    return CheckConfig()
