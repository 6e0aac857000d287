"""``vllm-infra promote``: pins move from one stack file to another with comments and layout
kept, the diff is shown, and nothing is written when the result would not validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import STACKS_DIR
from vllm_infra.cli import app
from vllm_infra.outputs.stack_config import load_stack

runner = CliRunner()


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    return Path(shutil.copytree(STACKS_DIR, tmp_path / "stacks"))


def promote(stacks: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["promote", "--stacks-dir", str(stacks), *args])
    return result.exit_code, result.stdout, result.stderr


def test_promotion_pins_the_services_both_stacks_run_and_keeps_the_file_as_written(stacks: Path) -> None:
    before = (stacks / "Pulumi.prod.yaml").read_text()
    code, out, _ = promote(stacks, "--from", "staging", "--to", "prod")
    assert code == 0
    lines = out.splitlines()
    assert lines[:6] == ["prod: llama-8b-pd: not in the target stack, not promoted (add it there by hand)",
                         "prod: llama-405b: not in the source stack, left as it is",
                         "prod: llama-70b-pd: not in the source stack, left as it is",
                         "prod: llama-8b: image.tag, image.unpinned_reason",
                         "prod: qwen-7b: image.tag, image.unpinned_reason",
                         "prod: llama-70b: image.tag, image.unpinned_reason"]
    assert "      spec.template.spec.containers[0].image: vllm/vllm-openai:v0.32.0 -> vllm/vllm-openai:v0.33.0" in lines
    assert lines[-1] == f"{stacks / 'Pulumi.prod.yaml'}: written; run `vllm-infra synth` and commit both"
    after = (stacks / "Pulumi.prod.yaml").read_text()
    kept = [line for line in before.splitlines() if line.lstrip().startswith("#") or line.strip()]
    assert [line for line in kept if line not in after.splitlines()] == []  # every line and comment is still there
    prod, staging = load_stack(stacks / "Pulumi.prod.yaml"), load_stack(stacks / "Pulumi.staging.yaml")
    by_name = {s.name: s for s in prod.services}
    for service in staging.services:
        if service.name == "llama-8b-pd":
            continue  # staging tries it alone
        assert (by_name[service.name].image.tag, by_name[service.name].model.revision) == (
            service.image.tag, service.model.revision)
    assert by_name["llama-405b"].image.tag == "v0.32.0"  # staging does not run it: left where it was
    assert promote(stacks, "--from", "staging", "--to", "prod")[1] == (
        "prod: llama-8b-pd: not in the target stack, not promoted (add it there by hand)\n"
        "prod: llama-405b: not in the source stack, left as it is\n"
        "prod: llama-70b-pd: not in the source stack, left as it is\n"
        "prod: already runs what staging runs; nothing to do\n")


def test_promoting_every_service_to_one_image_changes_the_defaults(stacks: Path) -> None:
    staging_file = stacks / "Pulumi.staging.yaml"
    text = staging_file.read_text()
    staging_file.write_text(text[:text.index("      - name: llama-8b-pd")])  # every service then runs in prod too
    code, out, _ = promote(stacks, "--from", "prod", "--to", "staging")
    assert code == 0
    assert out.splitlines()[:3] == ["staging: llama-405b: not in the target stack, not promoted (add it there by hand)",
                                    "staging: llama-70b-pd: not in the target stack, not promoted (add it there by "
                                    "hand)", "staging: defaults: image.tag, image.unpinned_reason"]
    staging = load_stack(stacks / "Pulumi.staging.yaml")
    assert {s.image.tag for s in staging.services} == {"v0.32.0"}
    assert "        image:" not in (stacks / "Pulumi.staging.yaml").read_text()  # no per-service overrides


def test_named_services_and_dry_run(stacks: Path) -> None:
    before = (stacks / "Pulumi.prod.yaml").read_text()
    code, out, _ = promote(stacks, "--from", "staging", "--to", "prod", "llama-70b", "--dry-run")
    assert code == 0
    assert out.splitlines()[0] == "prod: llama-70b: image.tag, image.unpinned_reason"
    assert out.splitlines()[-1] == f"{stacks / 'Pulumi.prod.yaml'}: not written (--dry-run)"
    assert (stacks / "Pulumi.prod.yaml").read_text() == before
    code, _, err = promote(stacks, "--from", "staging", "--to", "prod", "llama-405b")
    assert (code, err) == (2, "error: cannot promote staging to prod: not a service of both stacks: llama-405b\n")


def test_nothing_is_written_when_the_promoted_stack_would_not_validate(stacks: Path) -> None:
    staging = stacks / "Pulumi.staging.yaml"
    before = staging.read_text()
    code, _, err = promote(stacks, "--from", "dev", "--to", "staging")  # dev pins no digest and says not why
    assert code == 2
    assert err.startswith("error: cannot promote dev to staging: the promoted stack would not be valid: ")
    assert "services[0].image.digest: the restricted profile pins images by digest (VI-IMG-001)" in err
    assert staging.read_text() == before
