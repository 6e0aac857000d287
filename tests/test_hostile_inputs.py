"""Hostile stacks and trees: no write outside the tree, no hang on special files or YAML bombs, no
silent pass over files that were not read, numbers the API server would refuse, and no credential
echoed into a log. Every fixture is written here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli_check import invoke
from tests.test_cli_synth import run, workspace  # noqa: F401 - the fixture
from tests.test_spec_validation import Build, service_errors
from vllm_infra.outputs.writers import LayoutError
from vllm_infra.outputs.writers.flat import manifest_filename

CLI = Path(sys.executable).parent / "vllm-infra"
BOMB = """config:
  vllm-infra:fleet:
    a: &a ["x","x","x","x","x","x","x","x","x","x"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""
PRIVILEGED = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "p", "namespace": "llm"},
              "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                  "metadata": {"labels": {"a": "b"}},
                  "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                           "securityContext": {"privileged": True}}]}}}}


@pytest.mark.parametrize("stack", [".", ".."])
def test_dot_stack_names_are_refused_and_nothing_is_written(workspace: Path, stack: str) -> None:  # noqa: F811
    source = workspace / "stacks" / f"Pulumi.{stack}.yaml"
    source.write_text((workspace / "stacks" / "Pulumi.dev.yaml").read_text())
    code, out, err = run(workspace)
    assert (code, out) == (2, "")
    assert f"{source}: stack name {stack!r} cannot name an output directory" in err
    assert not (workspace / "manifests").exists()


@pytest.mark.parametrize("special", ["fifo", "zero"])
def test_special_stack_files_are_refused_without_reading(workspace: Path, special: str) -> None:  # noqa: F811
    target = workspace / "stacks" / f"Pulumi.{special}.yaml"
    if special == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    code, _, err = run(workspace, special)
    assert code == 2
    assert f"{target}: cannot read the file: not a regular file (a FIFO, socket or device is never read)" in err


@pytest.mark.parametrize(("text", "problem"), [
    (BOMB, ":7: aliases expand to more than 100000 nodes"),
    ("config:\n  vllm-infra:fleet:\n    x: " + "[" * 600 + "]" * 600 + "\n", ":3: nesting deeper than 100 levels"),
])
def test_yaml_bombs_in_stack_files_stop_at_the_limits(workspace: Path, text: str, problem: str) -> None:  # noqa: F811
    (workspace / "stacks" / "Pulumi.bomb.yaml").write_text(text)
    code, _, err = run(workspace, "bomb")
    assert code == 2 and f"Pulumi.bomb.yaml{problem}" in err


def test_objects_that_cannot_name_a_file_are_refused() -> None:
    with pytest.raises(LayoutError, match=r"Service name '\.\./\.\./escaped' is not a DNS-1123 name"):
        manifest_filename({"kind": "Service", "metadata": {"name": "../../escaped"}})
    with pytest.raises(LayoutError, match="an object's kind None is not a Kubernetes kind"):
        manifest_filename({"metadata": {"name": "x"}})
    with pytest.raises(LayoutError, match=r"a/b"):
        manifest_filename({"kind": "ConfigMap", "metadata": {"name": "a/b"}})


def test_check_reads_every_manifest_file_or_says_why_not(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "priv.JSON").write_text(json.dumps(PRIVILEGED))
    (tree / "kustomization.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k, namespace: llm}\n")
    (tree / "sub" / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                                                     "kind: Kustomization\nresources: [a.yaml]\n")
    (tree / "dangling.yaml").symlink_to(tmp_path / "missing.yaml")
    os.mkfifo(tree / "fifo.yml")
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", str(tree))
    report = json.loads(out)
    found = {(f["rule"], Path(f["file"]).name, f["message"]) for f in report["findings"]}
    assert code == 1
    assert ("VI-SEC-001", "priv.JSON", "container 'c' runs privileged") in found
    assert ("VI-YAML-001", "dangling.yaml", "dangling symbolic link") in found
    assert ("VI-YAML-001", "fifo.yml", "not a regular file (a FIFO, socket or device is never read)") in found
    assert {f["name"] for f in report["findings"]} >= {"p", "k"}  # a kustomization.yml holding a ConfigMap
    assert report["summary"]["objects"] == 2  # the real Kustomization is a build input, not an object
    assert report["summary"]["files_read"] == 3
    assert report["notices"][-1] == ("2 of 5 input files not read: 1 dangling symbolic link, 1 not a regular file "
                                     "(a FIFO, socket or device is never read)")


def test_invalid_utf8_on_stdin_is_bad_input() -> None:
    result = subprocess.run([str(CLI), "check", "-"], input=b"\xff\xfe", capture_output=True, check=False)
    assert result.returncode == 2 and b"<stdin>: cannot read: not valid UTF-8" in result.stderr


@pytest.mark.parametrize(("changes", "loc"), [
    ({"availability": {"replicas": 2**31}}, "availability.replicas"),
    ({"lifecycle": {"readiness": {"period_seconds": 1e31}}}, "lifecycle.readiness.period_seconds"),
    ({"security": {"run_as_user": 2**63}}, "security.run_as_user"),
    ({"resources": {"cpu": "-4"}}, "resources.cpu"),
    ({"resources": {"memory": "-16Gi"}}, "resources.memory"),
    ({"storage": {"shm_size": "0"}}, "storage.shm_size"),
    ({"storage": {"shm_size": 1e308}}, "storage.shm_size"),
    ({"lifecycle": {"drain": {"endpoint_delay": 2**40}}}, "lifecycle.drain.endpoint_delay"),
])
def test_numbers_the_api_server_refuses_are_refused(service_data: Build, changes: dict[str, Any], loc: str) -> None:
    assert loc in {location for location, _ in service_errors(service_data(**changes))}


def test_a_token_pasted_as_a_secret_name_is_not_echoed(workspace: Path) -> None:  # noqa: F811
    token = "hf_" + "Ab3" * 12
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("name: hf-token", f"name: {token}", 1))
    code, _, err = run(workspace, "dev")
    assert code == 2
    assert token not in err and "<redacted: it may be a credential>" in err


@pytest.mark.parametrize(("extra", "message"), [
    ({"revisio": "main"}, "--revisio is not a flag of vLLM 0.11.0; did you mean --revision?"),
    ({"gpu-memory-util": 0.99}, "--gpu-memory-util is not a flag of vLLM 0.11.0; did you mean "
                                "--gpu-memory-utilization?"),
    ({"hf-token": "hf_" + "Ab3" * 12}, "--hf-token would put a credential in the pod spec, where anyone who can read "
                                       "it sees it: use storage.hf_token_secret, security.api_key_secret or "
                                       "secret_env"),
])
def test_extra_args_cannot_abbreviate_reserved_flags_or_carry_credentials(service_data: Build, extra: dict[str, Any],
                                                                          message: str) -> None:
    assert service_errors(service_data(model={"extra_args": extra})) == [(f"model.extra_args.{next(iter(extra))}",
                                                                          message)]


def test_literal_credentials_are_found_by_value_in_env_args_and_annotations(tmp_path: Path) -> None:
    token = "sk-" + "Zq9" * 10
    deployment = json.loads(json.dumps(PRIVILEGED))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container.pop("securityContext")
    container["args"] = [f"--api-key={token}", "--hf-token=$(HF_TOKEN)"]
    container["env"] = [{"name": "OPENAI_KEY", "value": token}, {"name": "hf_token", "value": "abc"},
                        {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/hf/token"}]
    deployment["metadata"]["annotations"] = {"note": f"key {token}"}
    (tmp_path / "d.yaml").write_text(json.dumps(deployment))
    code, out, _ = invoke("check", "-o", "json", "--rule", "VI-SEC-010", str(tmp_path / "d.yaml"))
    found = sorted((f["path"], f["message"]) for f in json.loads(out)["findings"])
    assert code == 1
    assert found == [
        ("metadata.annotations.note", "annotation note holds what looks like a credential"),
        ("spec.template.spec.containers[0].args", "argument 1 passes a credential literally; read it from a Secret "
                                                  "(a file or an environment variable)"),
        ("spec.template.spec.containers[0].env[0].value", "OPENAI_KEY is a literal value; use valueFrom.secretKeyRef"),
        ("spec.template.spec.containers[0].env[1].value", "hf_token is a literal value; use valueFrom.secretKeyRef"),
    ]
    assert token not in out


def test_leftovers_of_an_interrupted_synth_are_removed_and_never_checked(workspace: Path) -> None:  # noqa: F811
    assert run(workspace, "dev")[0] == 0
    out = workspace / "manifests"
    for leftover in (".dev.new-x1y2", ".dev.old-1a2b3c4d"):  # what synth leaves: its staging marker, or the old tree
        (out / leftover).mkdir()
        for path in (out / "dev").glob("*.yaml"):
            (out / leftover / path.name).write_bytes(path.read_bytes())
    (out / ".dev.new-x1y2" / ".vllm-infra-staging").write_text("")
    (out / ".dev.old-1a2b3c4d" / ".vllm-infra-stack").write_bytes((out / "dev" / ".vllm-infra-stack").read_bytes())
    _, report, _ = invoke("check", "-o", "json", "--profile", "dev", str(out))
    assert json.loads(report)["summary"]["objects"] == 11  # only dev itself
    (out / "dev" / "service-qwen-7b.yaml").write_text("stale\n")
    assert run(workspace, "dev")[0] == 0
    assert sorted(path.name for path in out.iterdir()) == ["dev"]
    assert "stale" not in (out / "dev" / "service-qwen-7b.yaml").read_text()


def test_an_output_root_that_is_a_file_is_bad_input(workspace: Path) -> None:  # noqa: F811
    (workspace / "manifests").write_text("not a directory\n")
    code, _, err = run(workspace, "dev")
    assert code == 2 and "cannot write" in err and "Traceback" not in err


def test_errors_print_line_numbers_and_escape_control_characters(workspace: Path) -> None:  # noqa: F811
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("      storage:\n", '      "stor\\e[31mage":\n', 1))  # YAML's escape
    code, _, err = run(workspace, "dev")
    assert code == 2
    assert "\x1b" not in err and "stor\\x1b[31mage" in err
    assert f"{dev}:" in err  # the ':NN:' after the path stays a line number, not an emoji


def test_critical_findings_cannot_be_waived_under_the_restricted_profile(tmp_path: Path) -> None:
    deployment = json.loads(json.dumps(PRIVILEGED))
    (tmp_path / "d.yaml").write_text(json.dumps(deployment))
    _, out, _ = invoke("check", "-o", "json", "--rule", "VI-SEC-001", str(tmp_path / "d.yaml"))
    mark = json.loads(out)["findings"][0]["fingerprint"]
    deployment["metadata"]["annotations"] = {"vllm-infra.io/waive.VI-SEC-001": f"accepts={mark}; we need it"}
    (tmp_path / "d.yaml").write_text(json.dumps(deployment))
    code, out, _ = invoke("check", "-o", "json", "--rule", "VI-SEC-001", str(tmp_path / "d.yaml"))
    [finding] = json.loads(out)["findings"]
    assert code == 1 and finding["status"] != "waived"
    assert finding["message"].endswith("(waiver not applied: critical findings cannot be waived under the restricted "
                                       "profile)")
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", "--rule", "VI-SEC-001", str(tmp_path / "d.yaml"))
    assert code == 0 and json.loads(out)["findings"][0]["status"] == "waived"


@pytest.mark.parametrize("tag", ["nightly", "latest-cu128", "main"])
def test_moving_tags_are_refused(service_data: Build, tag: str) -> None:
    errors = service_errors(service_data(image={"tag": tag, "vllm_version": "0.11.0"}))
    assert ("image.tag", f"'{tag}' floats between releases; pin a release tag such as 'v0.11.0' or a digest") in errors


def test_a_restricted_fleet_keeps_its_namespace_restricted(service_data: Build) -> None:
    from tests.test_spec_validation import errors, fleet
    from vllm_infra.spec import FleetSpec

    data = fleet([service_data(image={"tag": "v0.11.0", "digest": "sha256:" + "a" * 64})], policy_profile="restricted")
    data["namespace"]["pod_security"] = "privileged"
    assert ("namespace.pod_security", "the restricted profile enforces the restricted Pod Security level on the "
                                      "namespace (VI-SEC-016)") in errors(FleetSpec, data)


@pytest.mark.parametrize(("changes", "loc"), [
    ({"service": {"annotations": {"vllm-infra.io/waive.VI-NET-002": "trust me"}}}, "service.annotations"),
    ({"service": {"annotations": {"note": "sk-" + "Zq9" * 10}}}, "service.annotations"),
    ({"autoscaling": {"backend": "keda", "min_replicas": 1, "max_replicas": 2,
                      "prometheus_url": "http://admin:hunter2@prometheus:9090"}}, "autoscaling.prometheus_url"),
])
def test_free_text_fields_carry_no_waivers_or_credentials(service_data: Build, changes: dict[str, Any],
                                                          loc: str) -> None:
    problems = service_errors(service_data(**changes))
    assert loc in {location for location, _ in problems}
    assert not any("hunter2" in message or "Zq9Zq9" in message for _, message in problems)


def test_url_passwords_in_stack_errors_are_not_echoed(workspace: Path) -> None:  # noqa: F811
    prod = workspace / "stacks" / "Pulumi.prod.yaml"
    text = prod.read_text()
    assert "prometheus_url: http://" in text
    prod.write_text(text.replace("prometheus_url: http://", "prometheus_url: http://admin:hunter2@", 1))
    code, _, err = run(workspace, "prod")
    assert code == 2 and "hunter2" not in err and "http://***@" in err


def test_a_patch_may_not_add_a_waiver(workspace: Path) -> None:  # noqa: F811
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("""      - name: qwen-7b
""", """      - name: qwen-7b
        patches:
          - kind: Service
            operations:
              - {op: add, path: /metadata/annotations, value: {vllm-infra.io/waive.VI-NET-002: "patched in"}}
"""))
    code, _, err = run(workspace, "dev")
    assert code == 2 and "patches may not add or change waivers (vllm-infra.io/waive.*)" in err
    assert not (workspace / "manifests").exists()


@pytest.mark.parametrize("name", ["hf_token", "API_KEY", "TOKEN", "PASSWORD", "AWS_SECRET_ACCESS_KEY", "GITHUB_PAT",
                                  "OPENAI_KEY"])
def test_env_names_that_carry_credentials_are_refused_and_found(service_data: Build, tmp_path: Path,
                                                                name: str) -> None:
    assert service_errors(service_data(env={name: "plain"})) == [(f"env.{name}", f"{name} looks like a secret; "
                                                                  "literal secrets are never rendered: use secret_env "
                                                                  "(or storage.hf_token_secret, "
                                                                  "security.api_key_secret)")]
    deployment = json.loads(json.dumps(PRIVILEGED))
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": name, "value": "plain"}]
    (tmp_path / "d.yaml").write_text(json.dumps(deployment))
    _, out, _ = invoke("check", "-o", "json", "--rule", "VI-SEC-010", str(tmp_path / "d.yaml"))
    assert [f["message"] for f in json.loads(out)["findings"]] == [f"{name} is a literal value; use "
                                                                   "valueFrom.secretKeyRef"]


@pytest.mark.parametrize("depth", [500, 50_000])
def test_deeply_nested_manifests_are_a_finding_not_a_crash(tmp_path: Path, depth: int) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: " + "[" * depth + "]" * depth)
    result = subprocess.run([str(CLI), "check", "-o", "json", str(deep)], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["problems"][0]["message"].startswith("YAML error:")


@pytest.mark.parametrize(("operation", "problem"), [
    ("{op: remove, path: /kind}", "patches may not change apiVersion, kind, metadata.name or metadata.namespace"),
    ("{op: replace, path: /metadata/name, value: a/b}", "patches may not change apiVersion, kind, metadata.name"),
])
def test_patches_cannot_unname_an_object(workspace: Path, operation: str, problem: str) -> None:  # noqa: F811
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("""      - name: qwen-7b
""", f"""      - name: qwen-7b
        patches:
          - kind: Service
            operations:
              - {operation}
"""))
    code, _, err = run(workspace, "dev")
    assert code == 2 and problem in err and not (workspace / "manifests").exists()


def test_an_alias_bomb_as_the_kind_is_a_finding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("apiVersion: v1\nmetadata: {name: b}\nx: &a [a,a,a,a,a,a,a,a,a,a]\ny: &b [*a,*a,*a,*a,*a,*a,*a,"
                    "*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nw: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                    "v: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nkind: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n")
    result = subprocess.run([str(CLI), "check", str(bomb)], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 2 and "aliases expand to more than 100000 nodes" in result.stderr


def test_a_sequence_as_a_stack_key_is_a_problem_not_a_crash(workspace: Path) -> None:  # noqa: F811
    dev = workspace / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("      storage:\n", "      ? [a, b]\n      : c\n      storage:\n", 1))
    code, _, err = run(workspace, "dev")
    assert code == 2 and "Traceback" not in err and "unknown field" in err
