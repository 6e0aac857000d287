"""The tree shows the architecture: spec -> render -> adapters. Imports never point upward, and
Pulumi is imported only by the Pulumi adapter so the CLI starts fast."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "vllm_infra"
CORE = {"units", "kube", "yamlio", "catalog"}
ALLOWED: dict[str, set[str]] = {
    "units": set(),
    "kube": set(),
    "yamlio": set(),
    "catalog": {"units"},
    "capacity": {"catalog", "units"},
    "spec": {"catalog", "units", "capacity"},
    "render": {"spec", "catalog", "units", "kube", "capacity"},
    "validation": {"kube"},
    "stacks": {"spec", "kube"},
    "gitops": {"yamlio"},
    "synth": {"gitops", "render", "spec", "stacks"},
    "parsecache": set(),
    "manifests": {"parsecache"},
    "policy": set(),
    "rules": {"catalog", "units", "kube", "validation", "capacity", "policy"},
    "checks": {"manifests", "rules", "validation", "kube", "policy"},
    "reports": {"checks", "rules", "policy"},
    "plan": {"capacity", "catalog", "spec", "units"},
    "smoke": set(),
    "cli": {"*"},
    "pulumi": {"*"},
    "__init__": {"*"},
}
"""Internal packages each layer may import (besides itself)."""


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_imports(path: Path) -> None:
    layer = _layer(path)
    allowed = ALLOWED[layer]
    for name in _imports(path):
        if name.startswith("vllm_infra."):
            target = name.split(".")[1]
            assert "*" in allowed or target in allowed | {layer}, f"{layer} must not import {name}"
        if name.split(".")[0] in {"pulumi", "pulumi_kubernetes", "pulumi_policy"}:
            assert layer == "pulumi", f"{path.relative_to(ROOT)} imports {name}; only vllm_infra.pulumi may"


def test_every_module_belongs_to_a_known_layer() -> None:
    assert {_layer(path) for path in MODULES} <= set(ALLOWED)


def test_cli_and_core_never_load_pulumi() -> None:
    code = ("import sys, vllm_infra, vllm_infra.cli, vllm_infra.synth; "
            "from vllm_infra.cli import app; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
