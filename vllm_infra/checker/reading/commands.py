"""The command line a container runs: command + args after ``$(VAR)`` expansion, and the script
of a shell started with ``-c``."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from vllm_infra.checker.reading.environment import env_values, expand_references
from vllm_infra.checker.reading.objects import as_list
from vllm_infra.checker.reading.views import view

SHELLS = frozenset({"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/env"})


def command_tokens(container: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Tokens of command + args after ``$(VAR)`` expansion; scripts passed to ``sh -c`` are
    split too (second value True)."""
    return view("command_tokens", container, _split_command)


def _split_command(container: Mapping[str, Any]) -> tuple[list[str], bool]:
    tokens = [str(t) for t in as_list(container.get("command")) + as_list(container.get("args"))]
    if any("$" in token for token in tokens):
        values = env_values(container)
        tokens = [expand_references(token, values) for token in tokens]
    if tokens and tokens[0] in SHELLS and "-c" in tokens:
        script = " ".join(tokens[tokens.index("-c") + 1:])
        try:
            return shlex.split(script), True
        except ValueError:
            return script.split(), True
    return tokens, False

