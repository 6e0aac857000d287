"""`vllm-infra smoke` against a stand-in vLLM server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from vllm_infra.cli import app
from vllm_infra.operations.smoke import SmokeSettings, smoke

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
METRICS = "# HELP vllm:num_requests_running x\nvllm:num_requests_running{model_name=\"m\"} 0.0\n" \
          "vllm:num_requests_waiting{model_name=\"m\"} 0.0\n"
runner = CliRunner()


class StandIn(ThreadingHTTPServer):
    """A fake vLLM server whose behaviour the test chooses."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = "healthy"
        self.served = MODEL
        self.failures_left = 0
        self.received: list[tuple[str, str, dict[str, Any] | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""

    def _reply(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, body: dict[str, Any] | None) -> None:
        server = self.server
        server.received.append((self.command, self.path, body))
        if server.mode == "slow":
            time.sleep(0.5)
        if server.mode == "failing" and self.path == "/health":
            return self._reply(503, "{}")
        if server.mode == "trickle" and self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
            return None
        if server.mode == "huge" and self.path == "/health":
            self.send_response(200)
            self.end_headers()
            chunk = b"x" * 2**20
            for _ in range(12):
                self.wfile.write(chunk)
            return None
        if server.mode == "redirect" and self.path == "/health":
            self.send_response(302)
            self.send_header("Location", "http://user:hunter2@elsewhere.example/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if server.failures_left > 0 and self.path == "/health":
            server.failures_left -= 1
            return self._reply(503, "{}")
        if self.path == "/health":
            return self._reply(200, "")
        if self.path == "/v1/models":
            return self._reply(200, json.dumps({"object": "list", "data": [{"id": server.served}]}))
        if self.path == "/metrics":
            return self._reply(200, "" if server.mode == "no-metrics" else METRICS, "text/plain")
        if self.path == "/v1/completions" and body and body.get("model") == server.served:
            return self._reply(200, json.dumps({"choices": [{"text": "OK", "index": 0}]}))
        if self.path == "/alert":
            return self._reply(200, "{}")
        return self._reply(404, json.dumps({"error": "not found"}))

    def do_GET(self) -> None:
        self._route(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self._route(json.loads(self.rfile.read(length) or b"{}"))


@pytest.fixture
def server() -> Iterator[StandIn]:
    stand_in = StandIn()
    thread = threading.Thread(target=stand_in.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.shutdown()
    stand_in.server_close()
    thread.join()


def run(*args: str) -> tuple[int, list[str], str]:
    result = runner.invoke(app, ["smoke", "--backoff", "0", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_healthy_endpoint_passes_every_check(server: StandIn) -> None:
    code, lines, _ = run(server.url, "--model", MODEL)
    assert code == 0
    assert [re.sub(r"\(\d+ ms\)", "(N ms)", line) for line in lines[:4]] == [
        f"ok   {server.url}/health: HTTP 200 (N ms)",
        f"ok   {server.url}/v1/models: serving {MODEL} (N ms)",
        f"ok   {server.url}/metrics: 2 vllm series (N ms)",
        f"ok   {server.url}/v1/completions: completion 'OK' (N ms)",
    ]
    assert re.fullmatch(r"PASS: 1/1 endpoints healthy, 4/4 checks passed in \d+\.\ds", lines[4])
    completion = [body for method, path, body in server.received if path == "/v1/completions"]
    assert completion == [{"model": MODEL, "prompt": "Reply with OK.", "max_tokens": 1, "temperature": 0}]


def test_wrong_model_fails_with_what_is_served(server: StandIn) -> None:
    server.served = "Qwen/Qwen2.5-7B-Instruct"
    code, lines, _ = run(server.url, "--model", MODEL, "--retries", "1")
    assert code == 1
    assert lines[1].startswith(f"FAIL {server.url}/v1/models: {MODEL} is not served (serving "
                               "Qwen/Qwen2.5-7B-Instruct) (")
    assert lines[1].endswith(", 2 attempts)")
    assert lines[-1].startswith("FAIL: 0/1 endpoints healthy, 2/4 checks passed")


def test_failing_health_is_retried_then_reported(server: StandIn) -> None:
    server.mode = "failing"
    code, lines, err = run(server.url, "--retries", "2")
    assert code == 1
    assert re.fullmatch(rf"FAIL {re.escape(server.url)}/health: HTTP 503 \(\d+ ms, 3 attempts\)", lines[0])
    assert err.splitlines()[:2] == [f"...  {server.url}/health: HTTP 503; retry 1 of 2 in 0s",
                                    f"...  {server.url}/health: HTTP 503; retry 2 of 2 in 0s"]
    assert sum(1 for _, path, _ in server.received if path == "/health") == 3


def test_transient_failures_recover_with_retries(server: StandIn) -> None:
    server.failures_left = 2
    code, lines, _ = run(server.url, "--retries", "3")
    assert code == 0
    assert lines[0].endswith(", 3 attempts)")


def test_slow_server_times_out(server: StandIn) -> None:
    server.mode = "slow"
    code, lines, _ = run(server.url, "--timeout", "0.2", "--retries", "0")
    assert code == 1
    assert lines[0].startswith(f"FAIL {server.url}/health: timed out after 0.2s (")


def test_missing_vllm_metrics(server: StandIn) -> None:
    server.mode = "no-metrics"
    code, lines, _ = run(server.url, "--retries", "0")
    assert code == 1
    assert lines[2].startswith(f"FAIL {server.url}/metrics: missing vllm:num_requests_running, "
                               "vllm:num_requests_waiting (")


def test_failure_posts_an_alert(server: StandIn) -> None:
    target = StandIn()
    thread = threading.Thread(target=target.serve_forever, daemon=True)
    thread.start()
    try:
        target.mode = "failing"
        code, lines, _ = run(target.url, "--retries", "0", "--webhook", f"{server.url}/alert")
    finally:
        target.shutdown()
        target.server_close()
    assert code == 1
    [(method, _, payload)] = [entry for entry in server.received if entry[1] == "/alert"]
    assert method == "POST" and payload is not None
    assert payload["text"] == f"vllm-infra smoke {lines[-1]}"
    assert payload["failures"][0] == {"url": target.url, "check": "/health", "detail": "HTTP 503", "attempts": 1}


def test_unreachable_endpoint_and_bad_input() -> None:
    code, lines, _ = run("http://127.0.0.1:9", "--retries", "0", "--timeout", "1")
    assert code == 1
    assert lines[0].startswith("FAIL http://127.0.0.1:9/health: ConnectError")
    code, _, err = run("llama:8000")
    assert (code, err) == (2, "error: URLs must be well-formed and start with http:// or https://\n  llama:8000\n")
    code, _, err = run("http://a", "http://b", "-m", "x", "-m", "y", "-m", "z")
    assert (code, err) == (2, "error: give one --model for all URLs or one per URL (2 URLs, 3 models)\n")


def test_each_check_is_told_as_it_ends_not_after_all_retries(server: StandIn) -> None:
    """A CI log shows a check's result (and each retry) when it happens: the callback for the
    first check runs before the second check's first request."""
    seen: list[tuple[str, int]] = []
    smoke([(server.url, MODEL)], SmokeSettings(retries=0), done=lambda result: seen.append(
        (result.check, len(server.received))))
    assert [check for check, _ in seen] == ["/health", "/v1/models", "/metrics", "/v1/completions"]
    assert [requests for _, requests in seen] == [1, 2, 3, 4]


def test_library_backoff_doubles(server: StandIn) -> None:
    server.mode = "failing"
    waits: list[float] = []
    [endpoint] = smoke([(server.url, None)], SmokeSettings(retries=3, backoff=0.5), sleep=waits.append)
    assert not endpoint.ok
    assert waits[:3] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(("mode", "detail"), [
    ("trickle", "no complete response within 1s"),
    ("huge", "response larger than 8 MiB"),
    ("redirect", "HTTP 302 redirect to http://***@elsewhere.example/health (not followed)"),
])
def test_hostile_servers_are_bounded_and_not_followed(server: StandIn, mode: str, detail: str) -> None:
    server.mode = mode
    code, lines, _ = run("--retries", "0", "--timeout", "1", server.url)
    assert code == 1
    assert lines[0].startswith(f"FAIL {server.url}/health: {detail}")
    assert "hunter2" not in "\n".join(lines)


def test_url_credentials_are_redacted_and_bad_urls_are_bad_input(server: StandIn) -> None:
    url = server.url.replace("http://", "http://admin:s3cret@")
    code, lines, _ = run("--retries", "0", url)
    assert code == 0 and "s3cret" not in "\n".join(lines)
    assert lines[0].startswith(f"ok   {server.url.replace('http://', 'http://***@')}/health")
    code, _, err = run("http://[::1")
    assert (code, err) == (2, "error: URLs must be well-formed and start with http:// or https://\n"
                              "  <unparseable URL>\n")


def test_server_supplied_text_is_printed_with_control_characters_escaped(server: StandIn) -> None:
    server.served = "m\x1b[2J"
    _, lines, _ = run("--retries", "0", server.url)
    assert "\x1b" not in "\n".join(lines)
    assert any("serving m\\x1b[2J" in line for line in lines)
