"""The command line a container runs, read as the kubelet and the shell read it: ``command`` +
``args`` after Kubernetes' ``$(VAR)`` expansion; for a shell started with ``-c`` (option clusters
such as ``-exc`` or ``-lc`` too), its script parsed as bash parses it (bashlex: quoting, ``\\``
line continuations, comments, ``&&``/``;``/``|`` lists, ``exec``), with ``$VAR`` and ``${VAR}``
taken from the container's environment where it sets them.

It decides which simple command replaces the shell as PID 1: one prefixed with ``exec``, or, under
bash (5.1 and later: every current vLLM image), the script's last command when nothing follows
it, not even a comment line (bash then execs it instead of forking).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import bashlex

from vllm_infra.checker.reading.environment import env_values, expand_references
from vllm_infra.checker.reading.objects import as_list
from vllm_infra.checker.reading.views import view

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})
"""Shells by program name (``/bin/sh``, ``/usr/bin/bash`` ...)."""
BASH = frozenset({"bash"})
"""Shells that exec the last command of a ``-c`` script (measured: bash 5.2 does, with ``-c``,
``-lc`` or ``-exc``, unless a comment line follows; dash 0.5.12 never does)."""
ENV = "env"
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", ";;", "\n"})
_PARAMETER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-=]([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class SimpleCommand:
    """One command a script runs, its words expanded as far as the pod's environment says."""

    argv: tuple[str, ...]
    replaces_shell: bool
    """It becomes the process the container's PID 1 was (``exec``, bash's last command, or no shell)."""


@dataclass(frozen=True)
class CommandLine:
    """What a container runs."""

    argv: tuple[str, ...]
    """command + args after ``$(VAR)`` expansion."""
    shell: str | None = None
    """The shell (program name) when the container runs a ``-c`` script."""
    script: str | None = None
    commands: tuple[SimpleCommand, ...] = ()
    """The script's simple commands in order (the exec form is one command)."""

    @property
    def words(self) -> tuple[str, ...]:
        """Every word the container's processes are started with."""
        return tuple(word for command in self.commands for word in command.argv) or self.argv


def _program(word: str) -> str:
    return PurePosixPath(word).name


def _script(argv: list[str]) -> tuple[str, str] | None:
    """(shell, script) when ``argv`` runs a shell with ``-c`` (also ``env bash -c``, ``-exc``)."""
    words = argv[1:] if argv and _program(argv[0]) == ENV else argv
    while words and "=" in words[0] and not words[0].startswith("-"):  # env VAR=value sh -c ...
        words = words[1:]
    if not words or _program(words[0]) not in SHELLS:
        return None
    for index, word in enumerate(words[1:], start=1):
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            rest = words[index + 1:]
            rest = rest[1:] if rest[:1] == ["--"] else rest  # bash -lc -- 'script'
            return (_program(words[0]), rest[0]) if rest else None
        if not word.startswith(("-", "+")):
            return None  # a script file, not -c
    return None


def _expand(word: str, values: Mapping[str, str]) -> str:
    """``$VAR``, ``${VAR}`` and ``${VAR:-default}`` where the environment (or the default) says."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name in values:
            return values[name]
        return match.group(2) if match.group(2) is not None else match.group(0)
    return _PARAMETER.sub(replace, word) if "$" in word else word


_Parsed = tuple[tuple[str, ...], bool, int, bool]
"""(argv, prefixed with exec, end position in the script, run by the shell itself) of a command."""


def _walk(node: Any, values: Mapping[str, str], top: bool = True) -> Iterator[_Parsed]:
    """The simple commands under a bashlex node, in order."""
    kind = getattr(node, "kind", "")
    if kind == "command":
        words = []
        for part in node.parts:
            if getattr(part, "kind", "") == "word":
                expandable = any(getattr(inner, "kind", "") == "parameter" for inner in getattr(part, "parts", []))
                words.append(_expand(part.word, values) if expandable else part.word)
        exec_ = bool(words) and words[0] == "exec"
        yield tuple(words[1:] if exec_ else words), exec_, node.pos[1], top
        return
    if kind == "list":
        parts = list(node.parts)
        for index, part in enumerate(parts):
            following = parts[index + 1] if index + 1 < len(parts) else None
            background = getattr(following, "op", None) == "&"
            yield from _walk(part, values, top and not background)
        return
    for part in getattr(node, "parts", None) or getattr(node, "list", None) or []:
        yield from _walk(part, values, False)  # pipelines, compounds, functions: never the shell itself


def _fallback(script: str, values: Mapping[str, str]) -> list[_Parsed]:
    """A script bashlex cannot parse (``[[``, ``case``...): continuations joined, comments dropped,
    split at the operators; nothing is taken as the shell's last command."""
    try:
        lexer = shlex.shlex(script.replace("\\\n", " ").replace("\n", "\n ; "), posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
    except ValueError:
        tokens = script.split()
    commands: list[_Parsed] = []
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token in _OPERATORS or set(token) <= set(";&|"):
            if current:
                exec_ = current[0] == "exec"
                commands.append((tuple(_expand(w, values) for w in current[exec_:]), exec_, -1, False))
            current = []
        else:
            current.append(token)
    return commands


def command_line(container: Mapping[str, Any]) -> CommandLine:
    """The container's command line (shared by the rules of one pass)."""
    return view("command_line", container, _command_line)


def _command_line(container: Mapping[str, Any]) -> CommandLine:
    argv = [str(t) for t in as_list(container.get("command")) + as_list(container.get("args"))]
    values = env_values(container)
    if any("$" in token for token in argv):
        argv = [expand_references(token, values) for token in argv]
    found = _script(argv)
    if found is None:
        return CommandLine(tuple(argv), commands=(SimpleCommand(tuple(argv), True),) if argv else ())
    shell, script = found
    try:
        parsed = [command for node in bashlex.parse(script) for command in _walk(node, values)]
    except Exception:  # bashlex raises its own errors and others on what it does not parse
        parsed = _fallback(script, values)
    commands = []
    for index, (words, exec_, end, top) in enumerate(parsed):
        last = shell in BASH and top and index == len(parsed) - 1 and end >= 0 and script[end:].strip() == ""
        commands.append(SimpleCommand(words, exec_ or last))
    return CommandLine(tuple(argv), shell, script, tuple(commands))
