"""The project as users get it: the sdist and wheel built by `python -m build`, the wheel installed
(not editable) into a fresh virtualenv, and every command's happy path and the README's library
example run from that virtualenv, in a directory outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACKS_DIR
from tests.test_readme import python_blocks
from tests.test_smoke import MODEL, StandIn

pytestmark = pytest.mark.slow

PACKAGE = "vllm_infra"


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Installed:
    python: Path
    cli: Path
    work: Path
    """A directory outside the repository holding a copy of the reference stacks."""

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.cli), *args], capture_output=True, text=True, cwd=self.work, input=stdin,
                              check=False, env=_clean_env(), timeout=600)


def _clean_env() -> dict[str, str]:
    """The caller's environment without what points Python at the repository's own tree."""
    return {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}


def source_files() -> set[str]:
    """The package's files in the source tree (what git tracks or would, ignore rules applied; the
    tree itself without git)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", PACKAGE],
                            cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        return {name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()}
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / PACKAGE).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True,
                   capture_output=True, timeout=600)
    [wheel], [sdist] = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    return Built(wheel, sdist)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"{built.wheel}[pulumi]"], check=True,
                   capture_output=True, timeout=900, env=_clean_env())
    work = tmp_path_factory.mktemp("user")
    shutil.copytree(STACKS_DIR, work / "stacks", ignore=shutil.ignore_patterns("__pycache__", "rendered"))
    shutil.copy(ROOT / "tests" / "fixtures" / "handwritten" / "release-contract.yaml", work / "server.yaml")
    return Installed(venv / "bin" / "python", venv / "bin" / "vllm-infra", work)


def test_the_wheel_holds_every_file_of_the_package(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert {name for name in names if name.startswith(f"{PACKAGE}/")} == source_files()
    assert f"{PACKAGE}/py.typed" in names


def test_the_sdist_holds_the_package_and_what_builds_it(built: Built) -> None:
    with tarfile.open(built.sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {name.removeprefix(f"{top}/") for name in archive.getnames()}
    assert source_files() <= names
    assert {"pyproject.toml", "README.md"} <= names
    assert not any(name.startswith((".venv/", ".import_linter_cache/")) for name in names)


def test_the_installed_package_is_the_wheel_not_the_repository(installed: Installed) -> None:
    where = subprocess.run([str(installed.python), "-c", "import vllm_infra; print(vllm_infra.__file__)"],
                           capture_output=True, text=True, check=True, cwd=installed.work, env=_clean_env())
    assert "site-packages" in where.stdout
    assert not where.stdout.startswith(str(ROOT / PACKAGE))


def test_the_readme_library_example_runs_from_the_wheel(installed: Installed) -> None:
    result = subprocess.run([str(installed.python), "-c", python_blocks()[0]], capture_output=True, text=True,
                            check=False, cwd=installed.work, env=_clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "ServiceAccount llama-8b"


def test_the_crossguard_pack_loads_from_the_wheel(installed: Installed) -> None:
    script = "from vllm_infra.pulumi.crossguard import policies; print(len(policies()))"
    result = subprocess.run([str(installed.python), "-c", script], capture_output=True, text=True, check=False,
                            cwd=installed.work, env=_clean_env())
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


def test_check_validate_and_rules_from_the_wheel(installed: Installed) -> None:
    checked = installed.run("check", "server.yaml", "-o", "json")
    assert checked.returncode in (0, 1), checked.stderr
    assert json.loads(checked.stdout)["summary"]["objects"] > 0
    validated = installed.run("validate", "server.yaml")
    assert validated.returncode in (0, 1), validated.stderr
    assert validated.stdout.splitlines()[-1].startswith(("PASS", "FAIL"))
    listed = installed.run("rules", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert {"VI-PRB-001", "VI-SCH-001"} <= {rule["id"] for rule in json.loads(listed.stdout)}
    assert installed.run("--version").stdout.startswith("vllm-infra ")
    page = installed.run("rules", "VI-PRB-001")
    assert page.returncode == 0 and "Example that fails:" in page.stdout


def test_synth_plan_simulate_and_upgrade_check_from_the_wheel(installed: Installed) -> None:
    synth = installed.run("synth", "--stacks-dir", "stacks", "--out", "manifests", "-q")
    assert synth.returncode == 0, synth.stderr
    assert (installed.work / "manifests" / "prod" / "kustomization.yaml").is_file()
    assert installed.run("synth", "--stacks-dir", "stacks", "--out", "manifests", "--check", "-q").returncode == 0
    check = installed.run("check", "manifests/prod")
    assert check.returncode == 0, check.stdout + check.stderr
    plan = installed.run("plan", "--stacks-dir", "stacks", "-o", "json")
    assert plan.returncode == 0, plan.stderr
    simulate = installed.run("simulate", "--stacks-dir", "stacks", "--pictures", "pictures", "-q")
    assert simulate.returncode == 0, simulate.stdout + simulate.stderr
    assert (installed.work / "pictures" / "prod.svg").is_file()
    upgrade = installed.run("upgrade-check", "--stacks-dir", "stacks", "prod")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    models = installed.run("models")
    assert models.returncode == 0 and "meta-llama/Llama-3.1-8B-Instruct" in models.stdout


def test_diff_and_promote_from_the_wheel(installed: Installed) -> None:
    head = installed.work / "head"
    shutil.copytree(installed.work / "stacks", head, dirs_exist_ok=True)
    diff = installed.run("diff", "--base", "stacks", "--head", "head", "-o", "json", "-q")
    assert diff.returncode == 0, diff.stderr
    assert isinstance(json.loads(diff.stdout), dict)
    promote = installed.run("promote", "--from", "staging", "--to", "prod", "--stacks-dir", "head", "--dry-run")
    assert promote.returncode in (0, 1), promote.stderr


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_smoke_from_the_wheel(installed: Installed, stand_in: StandIn) -> None:
    result = installed.run("smoke", stand_in.url, "--model", MODEL, "--backoff", "0")
    assert result.returncode == 0, result.stdout + result.stderr
