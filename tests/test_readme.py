"""README examples are executed, so they cannot drift from the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.pulumi_harness import run

README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def python_blocks() -> list[str]:
    """The README's Python examples (the first is the library example)."""
    return _blocks("python")


def test_python_examples_run() -> None:
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=ROOT, check=False)
        assert result.returncode == 0, result.stderr


def test_library_example_prints_the_rendered_objects() -> None:
    result = subprocess.run([sys.executable, "-c", _blocks("python")[0]], capture_output=True, text=True,
                            check=True)
    assert result.stdout.splitlines() == ["ServiceAccount llama-8b", "Service llama-8b", "Deployment llama-8b",
                                          "PodDisruptionBudget llama-8b", "NetworkPolicy llama-8b"]


def test_first_screen_gives_the_two_commands_ci_runs() -> None:
    commands = _blocks("bash")[:2]
    assert commands[0].strip().endswith("vllm-infra synth")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].strip() in ci
    assert README.index(commands[1]) < 2000, "the test command must be on the first screen"


def test_pulumi_example_runs_under_mocks(monkeypatch: pytest.MonkeyPatch) -> None:
    [block] = re.findall(r"```python pulumi\n(.*?)```", README, flags=re.DOTALL)
    recorder = run(lambda: exec(block, {"__name__": "__main__"}), monkeypatch=monkeypatch)
    assert {r.type for r in recorder.registrations} >= {
        "vllm-infra:kubernetes:VllmService", "kubernetes:apps/v1:Deployment", "pulumi:providers:kubernetes",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"}
    assert len(block.strip().splitlines()) <= 16


def test_rule_counts_in_the_readme_match_the_catalog() -> None:
    from vllm_infra.checker.rules import RULES

    counts = {int(n) for n in re.findall(r"catalog's (\d+) rules|\| (\d+) rules \|", README) for n in n if n}
    gpu = {int(n) for n in re.findall(r"(\d+)\s+GPU/LLM-specific rules", README)}
    assert counts == {len(RULES)}
    assert gpu == {sum(1 for rule in RULES.values() if rule.gpu_specific)}


def test_upgrade_check_output_in_the_readme_is_current() -> None:
    from typer.testing import CliRunner

    from vllm_infra.cli import app

    block = README.split("$ vllm-infra upgrade-check --to 0.33.0 prod\n", 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(app, ["upgrade-check", "--to", "0.33.0", "prod"])
    assert (result.exit_code, result.stdout) == (0, block)


def test_simulate_output_and_picture_in_the_readme_are_current(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vllm_infra.cli import app

    command = "$ vllm-infra simulate prod --pictures docs/simulation -q\n"
    block = README.split(command, 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(app, ["simulate", "prod", "--pictures", str(tmp_path), "-q"])
    assert (result.exit_code, result.stdout.replace(str(tmp_path), "docs/simulation")) == (0, block)
    assert (tmp_path / "prod.svg").read_bytes() == (ROOT / "docs" / "simulation" / "prod.svg").read_bytes()


def test_sample_pr_comment_in_the_readme_is_current(tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from tests.conftest import STACKS_DIR, canary_70b
    from vllm_infra.cli import app

    base, head = shutil.copytree(STACKS_DIR, tmp_path / "base"), shutil.copytree(STACKS_DIR, tmp_path / "head")
    canary_70b(Path(head))
    block = README.split("the comment reads:\n\n```markdown\n", 1)[1].split("```\n", 1)[0]
    result = CliRunner().invoke(app, ["diff", "--base", str(base), "--head", str(head), "prod", "-o", "markdown",
                                      "-q"])
    assert (result.exit_code, result.stdout) == (0, block)



def test_the_profile_table_is_the_profile_descriptors() -> None:
    from vllm_infra.vocabulary.profiles import PROFILES

    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|$", README.split("**Policy profiles**", 1)[1].split("\n\n", 2)[1],
                      flags=re.MULTILINE)
    assert rows == [(policy.profile.value, policy.summary) for policy in PROFILES.values()]
