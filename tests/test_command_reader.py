"""The command line a container runs, read as the kubelet and the shell read it (hand-written
cases of each class seen on real manifests). Which process becomes PID 1 under bash was measured
on bash 5.2 (the script's last command is exec'd unless a comment line follows; dash never does)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from vllm_infra.checker.reading.commands import command_line
from vllm_infra.checker.reading.server import engine_args, is_vllm_container


def container(command: list[str] | None = None, args: list[str] | None = None, env: dict[str, str] | None = None,
              image: str = "vllm/vllm-openai:v0.11.0") -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "c", "image": image}
    if command is not None:
        spec["command"] = command
    if args is not None:
        spec["args"] = args
    if env:
        spec["env"] = [{"name": name, "value": value} for name, value in env.items()]
    return spec


def test_backslash_continuations_keep_every_flag() -> None:
    spec = container(["sh", "-c"], ["vllm serve Qwen/Qwen3-8B \\\n  --tensor-parallel-size 4 \\\n"
                                    "  --trust-remote-code"])
    args = engine_args(spec)
    assert args.model == "Qwen/Qwen3-8B"
    assert args.flags["tensor-parallel-size"] == "4" and args.flags["trust-remote-code"] is True


@pytest.mark.parametrize("option", ["-c", "-exc", "-lc", "-ec", "-xc"])
def test_option_clusters_with_c_run_a_script(option: str) -> None:
    line = command_line(container(["/bin/bash", option, "vllm serve m --max-model-len 4096"]))
    assert line.shell == "bash"
    assert engine_args(container(["/bin/bash", option, "vllm serve m --max-model-len 4096"])).flags == {
        "max-model-len": "4096"}


def test_dash_dash_after_the_option_is_not_the_script() -> None:
    args = engine_args(container(["/bin/bash", "-lc", "--"],
                                 ["ray start --head; vllm serve m --tensor-parallel-size 2"]))
    assert (args.model, args.flags["tensor-parallel-size"]) == ("m", "2")


def test_variables_are_expanded_from_the_pod_environment() -> None:
    spec = container(["sh", "-c"], ["exec vllm serve $MODEL --max-model-len ${LEN} --port ${PORT:-8080} $UNSET"],
                     env={"MODEL": "meta-llama/Llama-3.1-8B-Instruct", "LEN": "8192"})
    args = engine_args(spec)
    assert args.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert (args.flags["max-model-len"], args.flags["port"]) == ("8192", "8080")
    assert "$UNSET" in args.argv  # unknown: kept as written, never guessed


def test_kubernetes_expands_its_own_references_before_the_shell() -> None:
    spec = container(["sh", "-c", "exec vllm serve $(MODEL)"], env={"MODEL": "m"})
    assert engine_args(spec).model == "m"


@pytest.mark.parametrize(("shell", "script", "pid1"), [
    ("bash", "exec vllm serve m", True),
    ("bash", "vllm serve m", True),
    ("bash", "pip list; ray start --head && vllm serve m", True),
    ("bash", "vllm serve m\n# a trailing comment line\n", False),
    ("bash", "vllm serve m &\nwait", False),
    ("bash", "vllm serve m | tee /tmp/log", False),
    ("bash", "vllm serve m; echo done", False),
    ("sh", "vllm serve m", False),
    ("sh", "set -e; exec vllm serve m", True),
])
def test_which_process_becomes_pid_1(shell: str, script: str, pid1: bool) -> None:
    assert engine_args(container([shell, "-c", script])).exec_form is pid1


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("script", "replaced"), [("true; sleep 2", True), ("true\nsleep 2\n# c", False),
                                                  ("true && sleep 2", True)])
def test_bash_itself_agrees(script: str, replaced: bool) -> None:
    """The oracle for the table above: what bash on this machine does with the same scripts."""
    assert engine_args(container(["bash", "-c", script.replace("sleep 2", "vllm serve m")])).exec_form is replaced
    process = subprocess.Popen(["bash", "-c", script])
    try:
        time.sleep(0.5)
        assert (Path(f"/proc/{process.pid}/comm").read_text().strip() == "sleep") is replaced
    finally:
        process.wait()


def test_exec_form_and_the_image_entrypoint() -> None:
    assert engine_args(container(["vllm", "serve", "m"])).exec_form is True
    entrypoint = engine_args(container(args=["--model", "m", "--port", "8080"]))
    assert (entrypoint.model, entrypoint.server_args, entrypoint.flags["port"]) == ("m", True, "8080")


def test_what_is_not_the_server_gives_no_model() -> None:
    """A command that starts no vLLM server has no engine arguments: not "model python3"."""
    for spec in (container(["python3", "app.py", "--port", "8000"], image="ubuntu:22.04"),
                 container(["ray", "start", "--head", "--block"])):
        args = engine_args(spec)
        assert (args.model, args.server_args) == (None, False)


def test_lora_modules_take_every_adapter() -> None:
    args = engine_args(container(["vllm", "serve", "Qwen/Qwen3-32B", "--lora-modules", "a=/adapters/a",
                                  "b=/adapters/b", "--max-loras", "2"]))
    assert args.model == "Qwen/Qwen3-32B"
    assert args.flags["lora-modules"] == "a=/adapters/a b=/adapters/b"


def test_a_script_bashlex_cannot_parse_is_still_read() -> None:
    spec = container(["bash", "-c", "if [[ -f /x ]]; then echo y; fi\nexec vllm serve m --max-model-len 1024"])
    args = engine_args(spec)
    assert (args.model, args.flags["max-model-len"], args.exec_form) == ("m", "1024", True)


def test_the_api_server_module_is_the_server() -> None:
    spec = container(["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "m"], image="ubuntu:22.04")
    assert is_vllm_container(spec)
    assert engine_args(spec).model == "m"
