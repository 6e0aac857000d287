"""Progress: every long call reports phases whose advances add up to their totals; the terminal bar
shows only on an interactive console, after the delay, and never with --quiet."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import MANIFESTS_DIR, STACKS_DIR
from vllm_infra.checker.rules import RULES
from vllm_infra.checker.rules.base import BundleRule
from vllm_infra.checker.runner import run_check, run_validate
from vllm_infra.cli import app
from vllm_infra.cli import progress as terminal
from vllm_infra.outputs.synth import synthesize
from vllm_infra.vocabulary.progress import SILENT, Advance


class Recorder:
    """Phases as [label, total, units reported]."""

    def __init__(self) -> None:
        self.phases: list[list[str | int]] = []

    def phase(self, label: str, total: int) -> Advance:
        entry: list[str | int] = [label, total, 0]
        self.phases.append(entry)

        def advance(units: int) -> None:
            entry[2] = int(entry[2]) + units

        return advance


def test_check_reports_reading_then_rules() -> None:
    recorder = Recorder()
    report = run_check([str(MANIFESTS_DIR / "prod")], progress=recorder)
    files = len(list((MANIFESTS_DIR / "prod").rglob("*.yaml")))  # kustomization.yaml is read, its content dropped
    bundle_rules = sum(1 for rule in RULES.values() if isinstance(rule, BundleRule))
    assert report.objects
    assert recorder.phases == [["checking manifests", files, files],
                               ["checking the bundle", bundle_rules, bundle_rules]]


def test_validate_reports_files() -> None:
    recorder = Recorder()
    run_validate([str(MANIFESTS_DIR / "dev")], progress=recorder)
    assert recorder.phases == [["validating manifests", 12, 12]]  # 11 objects and kustomization.yaml


def test_synth_reports_services_per_stack() -> None:
    recorder = Recorder()
    synthesize(STACKS_DIR, ["dev", "prod"], progress=recorder)
    assert [phase[0] for phase in recorder.phases] == ["rendering dev", "rendering prod"]
    assert all(phase[1] == phase[2] and int(phase[1]) > 0 for phase in recorder.phases)


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, force_interactive=True, width=80), buffer


def test_bar_appears_after_the_delay_and_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terminal, "DELAY", 0.0)
    monkeypatch.setattr(terminal, "REFRESH", 0.0)
    screen, buffer = console()
    with terminal.progress(False, screen) as bar:
        advance = bar.phase("reading manifests", 4)
        advance(2)
    assert "reading manifests" in buffer.getvalue()
    assert "2/4" in buffer.getvalue()


def test_short_runs_quiet_runs_and_pipes_show_nothing() -> None:
    screen, buffer = console()
    with terminal.progress(False, screen) as bar:  # finishes well inside DELAY
        bar.phase("reading manifests", 4)(4)
    assert buffer.getvalue() == ""
    with terminal.progress(True, screen) as bar:
        assert bar is SILENT
    piped = Console(file=io.StringIO())
    with terminal.progress(False, piped) as bar:
        assert bar is SILENT


def test_cli_is_silent_on_stderr_when_piped() -> None:
    result = CliRunner().invoke(app, ["check", str(MANIFESTS_DIR / "prod"), "--quiet"])
    assert (result.exit_code, result.stderr) == (0, "")
    result = CliRunner().invoke(app, ["validate", str(MANIFESTS_DIR / "prod")])
    assert (result.exit_code, result.stderr) == (0, "")
