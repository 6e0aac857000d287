"""The parse cache: check after synth reads the objects synth recorded, never a stale or foreign
entry, and gives the same findings (with the same lines) as parsing the YAML."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import STACKS_DIR
from vllm_infra import manifests, parsecache
from vllm_infra.cli import app

runner = CliRunner()


@pytest.fixture
def synthesized(tmp_path: Path) -> Path:
    """The reference stacks synthesized into a fresh tree (which records them in the cache)."""
    out = tmp_path / "manifests"
    result = runner.invoke(app, ["synth", "--stacks-dir", str(STACKS_DIR), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def parse_forbidden(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every file the loader parses as YAML instead of taking from the cache."""
    parsed: list[str] = []
    original = manifests.parse_text

    def spy(text: str, source: str) -> tuple[list[manifests.SourceObject], list[manifests.LoadProblem]]:
        parsed.append(Path(source).name)
        return original(text, source)

    monkeypatch.setattr(manifests, "parse_text", spy)
    return parsed


def loaded(tree: Path) -> list[tuple[str, int, dict[str, object]]]:
    objects, problems = manifests.load([str(tree)])
    assert problems == []
    return [(obj.source, obj.document, obj.manifest) for obj in objects]


def test_check_after_synth_takes_every_object_from_the_cache(
        synthesized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = parse_forbidden(monkeypatch)
    from_cache = loaded(synthesized)
    assert len(from_cache) == 11 + 19 + 31
    assert parsed == []
    monkeypatch.setenv("VLLM_INFRA_NO_CACHE", "1")
    assert loaded(synthesized) == from_cache  # identical to what parsing the YAML gives
    assert len(parsed) == 61


def test_edited_file_is_parsed_again(synthesized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = parse_forbidden(monkeypatch)
    path = synthesized / "prod" / "service-llama-8b.yaml"
    path.write_text(path.read_text().replace("port: 8000", "port: 8001"))
    objects, _ = manifests.load([str(synthesized / "prod")])
    assert parsed == ["service-llama-8b.yaml"]
    service = next(obj for obj in objects if obj.source == str(path))
    assert service.manifest["spec"]["ports"][0]["port"] == 8001


def test_moved_tree_misses(synthesized: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(synthesized / "dev", moved)
    parsed = parse_forbidden(monkeypatch)
    manifests.load([str(moved)])
    assert len(parsed) == 11


@pytest.mark.parametrize("damage", ["not json", json.dumps({"stamp": [0, "old", "old"], "files": {}}),
                                    json.dumps(["wrong", "shape"])])
def test_foreign_or_corrupt_pack_is_ignored(synthesized: Path, monkeypatch: pytest.MonkeyPatch,
                                            damage: str) -> None:
    for pack in Path(str(parsecache.cache_root())).glob("parsed/*.json"):
        pack.write_text(damage)
    parsed = parse_forbidden(monkeypatch)
    assert len(loaded(synthesized / "dev")) == 11
    assert len(parsed) == 11


def test_disabled_cache_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_INFRA_NO_CACHE", "1")
    assert parsecache.cache_root() is None
    result = runner.invoke(app, ["synth", "--stacks-dir", str(STACKS_DIR), "--out", str(tmp_path / "out"), "dev"])
    assert result.exit_code == 0
    monkeypatch.delenv("VLLM_INFRA_NO_CACHE")
    assert list(Path(str(parsecache.cache_root())).glob("parsed/*")) == []


def test_unwritable_cache_does_not_fail_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("VLLM_INFRA_CACHE_DIR", str(blocker))
    result = runner.invoke(app, ["synth", "--stacks-dir", str(STACKS_DIR), "--out", str(tmp_path / "out"), "dev"])
    assert result.exit_code == 0, result.output


def test_findings_and_lines_match_with_and_without_cache(synthesized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["check", str(synthesized / "dev"), "--profile", "dev", "--output", "json"]
    cached = runner.invoke(app, args)
    monkeypatch.setenv("VLLM_INFRA_NO_CACHE", "1")
    parsed = runner.invoke(app, args)
    assert cached.exit_code == parsed.exit_code == 0
    assert json.loads(cached.stdout) == json.loads(parsed.stdout)
    assert len(json.loads(cached.stdout)["findings"]) == 4


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VLLM_INFRA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert parsecache.cache_root() == tmp_path / "vllm-infra"
