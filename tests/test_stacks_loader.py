"""Stack files: one message per problem with file, line, field path and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_infra.outputs.stack_config import FLEET_KEY, StackConfigError, find_stacks, fleet_from_config, load_stack

GOOD_SERVICE = """\
      - name: llama-8b
        model:
          id: meta-llama/Llama-3.1-8B-Instruct
          revision: 0e9e39f249a16976918f6564b8830bc894c89659
          max_model_len: 8192
"""


def write_stack(tmp_path: Path, body: str, name: str = "dev") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(body)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(StackConfigError) as info:
        load_stack(path)
    return [str(problem) for problem in info.value.problems]


def test_valid_stack_loads(tmp_path: Path) -> None:
    path = write_stack(tmp_path, f"""\
config:
  kubernetes:context: gpu-cluster
  {FLEET_KEY}:
    environment: dev
    policy_profile: dev
    namespace: {{name: llm}}
    defaults:
      image: {{tag: v0.11.0}}
      accelerator: {{type: L4}}
    services:
{GOOD_SERVICE}""")
    fleet = load_stack(path)
    assert fleet.services[0].image.tag == "v0.11.0"
    assert find_stacks(tmp_path) == {"dev": path}


def test_each_problem_has_file_line_path_and_value(tmp_path: Path) -> None:
    path = write_stack(tmp_path, f"""\
config:
  {FLEET_KEY}:
    environment: dev
    namespace:
      name: default
    defaults:
      image:
        tag: latest
      availability:
        replics: 2
    services:
      - name: a
        model:
          id: meta-llama/Llama-3.1-8B-Instruct
          revision: main
        accelerator:
          type: H100
          countt: 2
""")
    assert problems(path) == [
        f"{path}:5: namespace.name: 'default' is shared with other workloads; use a dedicated namespace "
        "(got 'default')",
        f"{path}:7: defaults.image.vllm_version: the tag does not name a vLLM release; set 'vllm_version' "
        "(e.g. '0.11.0') (got 'latest')",
        f"{path}:8: defaults.image.tag: 'latest' floats between releases; pin a release tag such as 'v0.11.0' "
        "or a digest (got 'latest')",
        f"{path}:10: defaults.availability.replics: unknown field (did you mean 'replicas'?)",
        f"{path}:15: services[0].model.revision: must be a full 40-character commit hash of the model "
        "repository (branch names and tags move); copy it from the model's 'Files and versions' history "
        "(got 'main')",
        f"{path}:17: services[0].accelerator.type: Input should be 'T4', 'A10G', 'L4', 'L40S', 'A100-40GB', "
        "'A100-80GB', 'H100-80GB', 'H200', 'B200' or 'MI300X' (got 'H100')",
        f"{path}:18: services[0].accelerator.countt: unknown field (did you mean 'count'?)",
    ]


def test_problem_inherited_from_defaults_is_reported_once(tmp_path: Path) -> None:
    second = GOOD_SERVICE.replace("llama-8b", "other")
    path = write_stack(tmp_path, f"""\
config:
  {FLEET_KEY}:
    environment: dev
    namespace: {{name: llm}}
    defaults:
      image: {{tag: v0.11.0}}
      accelerator: {{type: L4, gpus: 1}}
    services:
{GOOD_SERVICE}{second}""")
    assert problems(path) == [f"{path}:7: defaults.accelerator.gpus: unknown field"]


def test_missing_section_and_missing_fields(tmp_path: Path) -> None:
    path = write_stack(tmp_path, f"""\
config:
  {FLEET_KEY}:
    namespace: {{name: llm}}
    services:
      - name: x
""")
    assert problems(path) == [
        f"{path}:2: environment: required field is missing",
        f"{path}:5: services[0].accelerator: required field is missing",
        f"{path}:5: services[0].image: required field is missing",
        f"{path}:5: services[0].model: required field is missing",
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write_stack(tmp_path, f"config:\n  {FLEET_KEY}:\n    environment: dev\n   bad: [\n")
    assert problems(path) == [f"{path}:4: YAML syntax error: while parsing a block mapping expected <block end>, "
                              "but found '<block mapping start>'"]


def test_duplicate_keys_are_syntax_errors(tmp_path: Path) -> None:
    path = write_stack(tmp_path, f"config:\n  {FLEET_KEY}:\n    environment: dev\n    environment: prod\n")
    [message] = problems(path)
    assert message.startswith(f"{path}:4: YAML syntax error:")
    assert 'found duplicate key "environment"' in message


def test_missing_file_and_missing_key(tmp_path: Path) -> None:
    assert problems(tmp_path / "Pulumi.qa.yaml") == [f"{tmp_path / 'Pulumi.qa.yaml'}: stack file not found"]
    path = write_stack(tmp_path, "config:\n  kubernetes:context: x\n")
    assert problems(path) == [f"{path}: no '{FLEET_KEY}' key under 'config'"]


def test_config_object_without_lines_reports_paths() -> None:
    with pytest.raises(StackConfigError) as info:
        fleet_from_config({"environment": "dev", "namespace": {"name": "llm"}, "services": []})
    assert [str(p) for p in info.value.problems] == [
        f"config {FLEET_KEY}: services: List should have at least 1 item after validation, not 0"]


def test_a_field_of_the_other_autoscaler_backend_says_which(tmp_path: Path) -> None:
    path = write_stack(tmp_path, f"""\
config:
  {FLEET_KEY}:
    environment: dev
    policy_profile: dev
    namespace: {{name: llm}}
    services:
{GOOD_SERVICE}        image: {{tag: v0.11.0}}
        accelerator: {{type: L4}}
        autoscaling:
          max_replicas: 3
          prometheus_url: http://prometheus:9090
          scale_down_stabilisation: 600
""")
    assert problems(path) == [
        f"{path}:16: services[0].autoscaling.prometheus_url: only used with backend: keda",
        f"{path}:17: services[0].autoscaling.scale_down_stabilisation: unknown field (did you mean "
        "'scale_down_stabilization'?)",
    ]
