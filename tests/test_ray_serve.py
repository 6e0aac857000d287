"""Ray runs what its Serve config and runtime_env say, beyond the pod templates: packages installed
as workers start, and vLLM engine arguments given by their Python names."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from vllm_infra.checker.rules import RULES
from vllm_infra.checker.rules.base import RuleContext
from vllm_infra.checker.runner import evaluate

RAY_SERVICE = """\
apiVersion: ray.io/v1
kind: RayService
metadata: {name: qwen, namespace: llm}
spec:
  serveConfigV2: |
    applications:
      - name: llm
        import_path: ray.serve.llm:build_openai_app
        route_prefix: /
        runtime_env:
          pip: [vllm==0.9.2, "xgrammar==0.1.19"]
        args:
          llm_configs:
            - model_loading_config:
                model_id: qwen
                model_source: Qwen/Qwen2.5-7B-Instruct
              accelerator_type: L4
              engine_kwargs:
                tensor_parallel_size: 1
                max_model_len: 8192
                trust_remote_code: true
  rayClusterConfig:
    headGroupSpec:
      rayStartParams: {}
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray-llm:2.46.0-py311-cu124
              resources: {limits: {cpu: "4", memory: 16Gi}, requests: {cpu: "4", memory: 16Gi}}
"""


def findings(objects: list[dict[str, Any]], rule_id: str) -> list[tuple[str, str]]:
    return [(".".join(map(str, f.path)), f.message) for f in evaluate(objects, [RULES[rule_id]], RuleContext())]


def ray_service(**changes: Any) -> list[dict[str, Any]]:
    obj = yaml.safe_load(RAY_SERVICE)
    config = yaml.safe_load(obj["spec"]["serveConfigV2"])
    app = config["applications"][0]
    for key, value in changes.items():
        if value is None:
            app.pop(key, None)
        else:
            app[key] = value
    obj["spec"]["serveConfigV2"] = yaml.safe_dump(config)
    return [obj]


def test_a_runtime_env_pip_installs_at_every_start() -> None:
    assert findings(ray_service(), "VI-IMG-003") == [
        ("spec.serveConfigV2", "Ray installs vllm==0.9.2, xgrammar==0.1.19 for application 'llm' (runtime_env.pip) "
                               "whenever a worker starts it: it needs egress, slows the start-up and is not "
                               "reproducible")]


@pytest.mark.parametrize("runtime_env", [
    None, {"env_vars": {"VLLM_USE_V1": "1"}}, {"conda": "existing-env"}, {"pip": []}])
def test_a_runtime_env_without_installs_passes(runtime_env: dict[str, Any] | None) -> None:
    assert findings(ray_service(runtime_env=runtime_env), "VI-IMG-003") == []


def test_a_job_runtime_env_is_read_too() -> None:
    job = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "bench", "namespace": "llm"},
           "spec": {"entrypoint": "python bench.py", "runtimeEnvYAML": "pip:\n  packages: [vllm]\n"}}
    assert findings([job], "VI-IMG-003") == [
        ("spec.runtimeEnvYAML", "Ray installs vllm for the job (runtime_env.pip) whenever a worker starts it: it "
                                "needs egress, slows the start-up and is not reproducible")]


def test_trust_remote_code_in_engine_kwargs_needs_pins_and_a_waiver() -> None:
    assert findings(ray_service(), "VI-SEC-013") == [
        ("spec.serveConfigV2", "application 'llm' (Qwen/Qwen2.5-7B-Instruct) sets trust_remote_code, which runs "
                               "repository code that is not pinned: set revision and code_revision in engine_kwargs "
                               "to a commit hash"),
        ("spec.serveConfigV2", "application 'llm' (Qwen/Qwen2.5-7B-Instruct) sets trust_remote_code: it executes "
                               "Python from the model repository")]


@pytest.mark.parametrize("text", ["", "applications: [", "42", "applications: 7", "applications: [7, {args: 3}]"])
def test_an_unreadable_serve_config_is_no_finding(text: str) -> None:
    obj = yaml.safe_load(RAY_SERVICE)
    obj["spec"]["serveConfigV2"] = text
    for rule_id in ("VI-IMG-003", "VI-SEC-013"):
        assert findings([obj], rule_id) == []
