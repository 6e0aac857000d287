"""LoRA as a vLLM server's flags state it: whether it is on, its slots, and the adapters it loads
at start (``--lora-modules``: ``name=path`` items or JSON objects, as vLLM's parser reads them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vllm_infra.checker.reading.server import engine_args


@dataclass(frozen=True)
class LoraFlags:
    """The LoRA flags of one server (None: not given)."""

    enabled: bool
    max_loras: int | None
    max_rank: int | None
    max_cpu_loras: int | None
    adapters: tuple[str, ...]
    """Names of the adapters loaded at start, in order."""


def _integer(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _adapter_names(argv: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the items after ``--lora-modules`` (until the next option)."""
    items: list[str] = []
    for index, token in enumerate(argv):
        if token.startswith("--lora-modules="):
            items.append(token.split("=", 1)[1])
        elif token == "--lora-modules":
            for following in argv[index + 1:]:
                if following.startswith("-"):
                    break
                items.append(following)
    names = []
    for item in items:
        if "=" in item and "," not in item:
            names.append(item.split("=", 1)[0])
            continue
        try:
            data = json.loads(item)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            names.append(data["name"])
    return tuple(names)


def lora_flags(container: Mapping[str, Any]) -> LoraFlags | None:
    """The server's LoRA flags (None when it sets none of them)."""
    args = engine_args(container)
    names = ("enable-lora", "max-loras", "max-lora-rank", "max-cpu-loras", "lora-modules")
    if not any(args.flag(name) is not None for name in names):
        return None
    return LoraFlags(args.flag("enable-lora") is True, _integer(args.flag("max-loras")),
                     _integer(args.flag("max-lora-rank")), _integer(args.flag("max-cpu-loras")),
                     _adapter_names(args.argv))
