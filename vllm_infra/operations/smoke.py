"""Post-deploy smoke check of vLLM endpoints: /health, /v1/models (the expected model is served),
/metrics (vLLM's metrics are exported) and one tiny completion, each timed, retried with
exponential backoff and bounded by a timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from vllm_infra.vocabulary.credentials import scrub

REQUIRED_METRICS = ("vllm:num_requests_running", "vllm:num_requests_waiting")


@dataclass(frozen=True)
class SmokeSettings:
    """How hard to try."""

    timeout: float = 10.0
    """Seconds per request."""
    retries: int = 3
    """Attempts per check beyond the first."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled each time."""
    api_key: str | None = None
    """Bearer token when the server runs with --api-key."""


@dataclass(frozen=True)
class CheckResult:
    """One check against one endpoint."""

    url: str
    check: str
    ok: bool
    detail: str
    seconds: float
    attempts: int


@dataclass
class EndpointResult:
    """All checks of one endpoint."""

    url: str
    model: str | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return all(check.ok for check in self.checks)


class CheckFailed(Exception):
    """A check's response was wrong (retryable)."""


MAX_BODY_BYTES = 8 * 2**20
"""Largest response body read (a busy server's /metrics is well under 1 MiB)."""


@dataclass(frozen=True)
class Answer:
    """A response read within the deadline and the size cap."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _fetch(client: httpx.Client, method: str, url: str, timeout: float, **kwargs: Any) -> Answer:
    """One request that ends within ``timeout`` seconds in total (a server trickling a byte at a
    time cannot hold it), reads at most MAX_BODY_BYTES, and follows no redirect (one to another
    host would test and report a different server)."""
    deadline = time.monotonic() + timeout
    with client.stream(method, url, **kwargs) as response:
        if response.is_redirect:
            target = response.headers.get("location", "?")
            raise CheckFailed(f"HTTP {response.status_code} redirect to {redact_url(target)} (not followed)")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise CheckFailed(f"response larger than {MAX_BODY_BYTES // 2**20} MiB")
            if time.monotonic() > deadline:
                raise CheckFailed(f"no complete response within {timeout:g}s")
        return Answer(response.status_code, bytes(body))


def redact_url(url: str) -> str:
    """``url`` with any user and password replaced (they must not reach logs or alerts)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<unparseable URL>"
    return str(parsed.copy_with(username="***", password=None)) if parsed.userinfo else url


def _health(client: httpx.Client, url: str, model: str | None, timeout: float) -> tuple[str, str | None]:
    response = _fetch(client, "GET", f"{url}/health", timeout)
    if response.status != 200:
        raise CheckFailed(f"HTTP {response.status}")
    return "HTTP 200", model


def _models(client: httpx.Client, url: str, model: str | None, timeout: float) -> tuple[str, str | None]:
    response = _fetch(client, "GET", f"{url}/v1/models", timeout)
    if response.status != 200:
        raise CheckFailed(f"HTTP {response.status}")
    try:
        served = [str(item["id"]) for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(f"unexpected body: {exc}") from exc
    if not served:
        raise CheckFailed("no models served")
    if model is not None and model not in served:
        raise CheckFailed(f"{model} is not served (serving {', '.join(served)})")
    return f"serving {', '.join(served)}", model or served[0]


def _metrics(client: httpx.Client, url: str, model: str | None, timeout: float) -> tuple[str, str | None]:
    response = _fetch(client, "GET", f"{url}/metrics", timeout)
    if response.status != 200:
        raise CheckFailed(f"HTTP {response.status}")
    missing = [name for name in REQUIRED_METRICS if name not in response.text]
    if missing:
        raise CheckFailed(f"missing {', '.join(missing)}")
    return f"{sum(1 for line in response.text.splitlines() if line.startswith('vllm:'))} vllm series", model


def _completion(client: httpx.Client, url: str, model: str | None, timeout: float) -> tuple[str, str | None]:
    if model is None:
        raise CheckFailed("no model to ask (the models check failed)")
    response = _fetch(client, "POST", f"{url}/v1/completions", timeout,
                      json={"model": model, "prompt": "Reply with OK.", "max_tokens": 1, "temperature": 0})
    if response.status != 200:
        raise CheckFailed(f"HTTP {response.status}")
    try:
        choices = response.json()["choices"]
        text = str(choices[0]["text"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CheckFailed(f"unexpected body: {exc}") from exc
    return f"completion {text!r}", model


Check = Callable[[httpx.Client, str, str | None, float], tuple[str, str | None]]
CHECKS: tuple[tuple[str, Check], ...] = (
    ("/health", _health), ("/v1/models", _models), ("/metrics", _metrics), ("/v1/completions", _completion))


Retrying = Callable[[str, str, int, str, float], None]
"""Told of each failed attempt before its retry: (URL, check, attempt, why, seconds until the next)."""


def _attempt(client: httpx.Client, url: str, model: str | None, name: str, check: Check,
             settings: SmokeSettings, sleep: Callable[[float], None], retrying: Retrying,
             ) -> tuple[CheckResult, str | None]:
    started, delay, detail = time.monotonic(), settings.backoff, ""
    for attempt in range(1, settings.retries + 2):
        try:
            detail, model = check(client, url, model, settings.timeout)
            return CheckResult(redact_url(url), name, True, detail, time.monotonic() - started, attempt), model
        except CheckFailed as exc:
            detail = str(exc)
        except httpx.TimeoutException:
            detail = f"timed out after {settings.timeout:g}s"
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {scrub(str(exc))}"
        if attempt <= settings.retries:
            retrying(redact_url(url), name, attempt, detail, delay)
            sleep(delay)
            delay *= 2
    return CheckResult(redact_url(url), name, False, detail, time.monotonic() - started, settings.retries + 1), model


def smoke(targets: Sequence[tuple[str, str | None]], settings: SmokeSettings | None = None,
          sleep: Callable[[float], None] = time.sleep, done: Callable[[CheckResult], None] = lambda _result: None,
          retrying: Retrying = lambda *_details: None) -> list[EndpointResult]:
    """Run every check against every (base URL, expected model) target; ``done`` hears of each
    check as it ends and ``retrying`` of each retry, so a caller can show progress as it happens."""
    settings = settings or SmokeSettings()
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    results = []
    with httpx.Client(timeout=settings.timeout, headers=headers, follow_redirects=False) as client:
        for url, expected in targets:
            endpoint = EndpointResult(redact_url(url.rstrip("/")), expected)
            model = expected
            for name, check in CHECKS:
                result, model = _attempt(client, url.rstrip("/"), model, name, check, settings, sleep, retrying)
                endpoint.checks.append(result)
                done(result)
            results.append(endpoint)
    return results


def summary(results: Sequence[EndpointResult], seconds: float) -> str:
    """One line for humans and alerts."""
    healthy = sum(1 for r in results if r.ok)
    checks = sum(len(r.checks) for r in results)
    passed = sum(1 for r in results for c in r.checks if c.ok)
    verdict = "PASS" if healthy == len(results) else "FAIL"
    return (f"{verdict}: {healthy}/{len(results)} endpoints healthy, {passed}/{checks} checks passed in "
            f"{seconds:.1f}s")


def alert_payload(results: Sequence[EndpointResult], line: str) -> dict[str, Any]:
    """Webhook body: Slack-compatible ``text`` plus structured failures."""
    failures = [{"url": c.url, "check": c.check, "detail": c.detail, "attempts": c.attempts}
                for r in results for c in r.checks if not c.ok]
    return {"text": f"vllm-infra smoke {line}", "failures": failures}


def send_alert(webhook: str, payload: dict[str, Any], timeout: float) -> str | None:
    """POST the alert; returns an error description instead of raising."""
    try:
        response = httpx.post(webhook, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if response.status_code < 300 else f"HTTP {response.status_code}"
