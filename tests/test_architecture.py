"""The tree shows the architecture and keeps it: the import contracts in pyproject.toml hold, the
CLI starts without pydantic or Pulumi, every rule module is registered, and each Kubernetes or
vLLM fact is written down in one module only."""

from __future__ import annotations

import ast
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import vllm_infra.checker.rules as rules_package
from tests.conftest import ROOT
from vllm_infra.checker.rules import RULE_MODULES, RULES

PACKAGE = ROOT / "vllm_infra"
TOP_LEVEL_FOLDERS = {path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith(".")}


@pytest.mark.slow
def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter comes with the test extra"
    result = subprocess.run([lint_imports], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", ["--help", "check --help", "check manifests/prod", "validate manifests/dev",
                                     "rules", "synth --help"])
def test_cli_starts_without_pydantic_or_pulumi(command: str) -> None:
    code = ("import sys; from vllm_infra.cli import app; "
            f"sys.argv = ['vllm-infra', *{command.split()!r}]\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pulumi', 'pulumi_kubernetes'})\n"
            "print('LOADED', loaded)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.stdout.splitlines()[-1] == "LOADED []", result.stdout + result.stderr


def test_no_module_is_named_like_a_top_level_folder() -> None:
    names = {path.stem if path.is_file() else path.name for path in PACKAGE.rglob("*")
             if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists())}
    assert {"manifests", "stacks", "policies", "tests"} <= TOP_LEVEL_FOLDERS
    assert not names & TOP_LEVEL_FOLDERS, names & TOP_LEVEL_FOLDERS


def test_the_rule_modules_are_the_independence_contract() -> None:
    """A new rule module joins the contract that keeps rule modules from importing each other."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [independent] = [c for c in contracts if c["type"] == "independence"]
    assert set(independent["modules"]) == {module.__name__ for module in RULE_MODULES}


def test_every_rule_module_is_registered() -> None:
    helpers = {"base", "engine", "simulated"}
    modules = {info.name for info in pkgutil.iter_modules(rules_package.__path__)}
    assert {module.__name__.rsplit(".", 1)[1] for module in RULE_MODULES} == modules - helpers
    defined_in = {module.__name__ for module in RULE_MODULES for value in vars(module).values()
                  if any(value is rule for rule in RULES.values())}
    assert defined_in == {module.__name__ for module in RULE_MODULES}


FACTS: dict[object, str] = {
    "leaderworkerset.sigs.k8s.io/name": "vocabulary/kubernetes.py",
    "leaderworkerset.sigs.k8s.io/worker-index": "vocabulary/kubernetes.py",
    "leaderworkerset.x-k8s.io/v1": "vocabulary/kubernetes.py",
    "keda.sh/v1alpha1": "vocabulary/autoscalers.py",
    "^[0-9a-f]{40}$": "catalog/huggingface.py",
    "HIP_VISIBLE_DEVICES": "catalog/gpus.py",
    "ROCR_VISIBLE_DEVICES": "catalog/gpus.py",
    "CUDA_VISIBLE_DEVICES": "catalog/gpus.py",
    "NVIDIA_VISIBLE_DEVICES": "catalog/gpus.py",
    "NUMBA_CACHE_DIR": "catalog/vllm.py",
    "pulumi.com/timeoutSeconds": "vocabulary/kubernetes.py",
    "vllm-infra.io/waive.": "vocabulary/kubernetes.py",
    "vllm-infra.io/spare-gpus": "vocabulary/kubernetes.py",
    "VI-SEC-013": "vocabulary/reporting.py",
    "VI-SCH-001": "checker/rules/schema.py",
    0.0385: "capacity/memory.py",
    1800: "vocabulary/limits.py",
    "HF_HUB_OFFLINE": "catalog/huggingface.py",
    "runai_streamer": "catalog/vllm.py",
    "VI-IMG-002": "vocabulary/reporting.py",
    "vllm-infra.io/prefetch": "vocabulary/kubernetes.py",
    "1.35": "vocabulary/kubernetes.py",
}
"""A value that states a fact (a string or number in code, docstrings aside) -> its only home."""

NAMED_ELSEWHERE = {("NUMBA_CACHE_DIR", "spec/environment.py")}
"""spec/environment.py sets each cache variable to a path (and the renderer writes what it says);
it does not decide which variables vLLM writes through (catalog/vllm.py does)."""


def _constants(path: Path) -> set[object]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings
            and isinstance(node.value, str | int | float) and not isinstance(node.value, bool)}


def test_each_fact_has_one_home() -> None:
    homes: dict[object, set[str]] = {fact: set() for fact in FACTS}
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).as_posix()
        constants = _constants(path)
        for fact in FACTS:
            declared = fact in constants or (isinstance(fact, str) and fact.startswith("^") and any(
                isinstance(value, str) and fact in value for value in constants))
            if declared and (fact, module) not in NAMED_ELSEWHERE:
                homes[fact].add(module)
    assert {fact: sorted(found) for fact, found in homes.items() if found != {FACTS[fact]}} == {}


def test_readme_architecture_names_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How it fits together"):readme.index("## Stacks")]
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    named = set(re.findall(r"`vllm_infra/([a-z_]+)/`", section))
    assert named == packages


PUBLIC_API = ["FleetSpec", "GpuType", "RenderContext", "StackConfigError", "VllmFleet", "VllmFleetArgs",
              "VllmService", "VllmServiceArgs", "VllmServiceSpec", "__version__", "fleet_from_config", "load_stack",
              "render_fleet", "render_service"]
"""The names other infra repositories import: changing them is a breaking change, made here on purpose."""


def test_public_api_names_resolve_on_first_use() -> None:
    import vllm_infra

    assert vllm_infra.__all__ == PUBLIC_API
    assert sorted(vllm_infra.__all__) == sorted([*vllm_infra._HOMES, "__version__"])
    assert all(getattr(vllm_infra, name) is not None for name in vllm_infra.__all__)


def test_the_spec_reserves_exactly_what_the_renderer_sets() -> None:
    """One table decides the server's own environment: every name rendered for any service is reserved,
    and no reserved name is invented."""
    from vllm_infra.render import RenderContext, render_service
    from vllm_infra.spec import VllmServiceSpec
    from vllm_infra.spec.environment import MANAGED_ENV

    rendered: set[str] = set()
    for storage in ({"model_cache": {"type": "emptyDir"}}, {"hf_token_secret": {"name": "hf"},
                    "model_cache": {"type": "pvc", "size": "100Gi", "offline": True}}):
        spec = VllmServiceSpec.model_validate({"name": "m", "model": {"id": "meta-llama/Llama-3.1-8B-Instruct",
                                               "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
                                               "max_model_len": 8192}, "image": {"tag": "v0.11.0"},
                                               "accelerator": {"type": "L4"}, "storage": storage,
                                               "security": {"api_key_secret": {"name": "k", "key": "key"}}})
        for obj in render_service(spec, RenderContext(namespace="llm")):
            for template in [obj.get("spec", {}).get("template", {})]:
                for container in template.get("spec", {}).get("containers", []):
                    rendered |= {entry["name"] for entry in container.get("env", [])}
    assert rendered and rendered <= MANAGED_ENV
    assert MANAGED_ENV - rendered <= {"HF_TOKEN", "NODE_RANK"}  # reserved, and set for multi-node workers
