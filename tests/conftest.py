"""Shared fixtures: a minimal valid service, the reference stacks, a compiled schema validator."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from vllm_infra.checker.schemas.validator import SchemaValidator

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
"""The same examples on every run, so the test command's verdict never depends on luck;
``HYPOTHESIS_PROFILE=explore`` searches further with fresh random examples."""

ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = ROOT / "stacks"
MANIFESTS_DIR = ROOT / "manifests"
REFERENCE_STACKS = ("dev", "prod", "staging")

LLAMA_8B_REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"

MINIMAL_SERVICE: dict[str, Any] = {
    "name": "llama-8b",
    "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "revision": LLAMA_8B_REVISION, "max_model_len": 8192},
    "image": {"tag": "v0.11.0"},
    "accelerator": {"type": "L4"},
}


def deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``changes`` merged in (nested mappings merge)."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.fixture
def service_data() -> Callable[..., dict[str, Any]]:
    """Build a service mapping: the minimal valid one plus nested overrides."""

    def build(**changes: Any) -> dict[str, Any]:
        return deep_update(MINIMAL_SERVICE, changes)

    return build


@pytest.fixture(scope="session")
def schema_validator() -> SchemaValidator:
    """Validator for the default Kubernetes version, compiled once per test session."""
    return SchemaValidator()


def canary_70b(stacks: Path) -> None:
    """The worked change of the diff tests and the README: prod's 70B service moves to TP 8 on the
    next vLLM release."""
    path = stacks / "Pulumi.prod.yaml"
    text = path.read_text()
    assert "        parallelism:\n          tensor: 4\n" in text
    path.write_text(text.replace("        parallelism:\n          tensor: 4\n",
                                 "        image:\n          tag: v0.33.0\n"
                                 "          unpinned_reason: canary of the next release\n"
                                 "        parallelism:\n          tensor: 8\n", 1))


def field_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON-like document, the document itself (``()``) first."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += field_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += field_paths(value, (*prefix, index))
    return found

