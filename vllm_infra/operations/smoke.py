"""Post-deploy smoke check of vLLM endpoints: /health, /v1/models (the expected model is served),
/metrics (vLLM's metrics are exported) and one tiny completion, each timed, retried with
exponential backoff and bounded by a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

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


def _health(client: httpx.Client, url: str, model: str | None) -> tuple[str, str | None]:
    response = client.get(f"{url}/health")
    if response.status_code != 200:
        raise CheckFailed(f"HTTP {response.status_code}")
    return "HTTP 200", model


def _models(client: httpx.Client, url: str, model: str | None) -> tuple[str, str | None]:
    response = client.get(f"{url}/v1/models")
    if response.status_code != 200:
        raise CheckFailed(f"HTTP {response.status_code}")
    try:
        served = [str(item["id"]) for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(f"unexpected body: {exc}") from exc
    if not served:
        raise CheckFailed("no models served")
    if model is not None and model not in served:
        raise CheckFailed(f"{model} is not served (serving {', '.join(served)})")
    return f"serving {', '.join(served)}", model or served[0]


def _metrics(client: httpx.Client, url: str, model: str | None) -> tuple[str, str | None]:
    response = client.get(f"{url}/metrics")
    if response.status_code != 200:
        raise CheckFailed(f"HTTP {response.status_code}")
    missing = [name for name in REQUIRED_METRICS if name not in response.text]
    if missing:
        raise CheckFailed(f"missing {', '.join(missing)}")
    return f"{sum(1 for line in response.text.splitlines() if line.startswith('vllm:'))} vllm series", model


def _completion(client: httpx.Client, url: str, model: str | None) -> tuple[str, str | None]:
    if model is None:
        raise CheckFailed("no model to ask (the models check failed)")
    response = client.post(f"{url}/v1/completions", json={"model": model, "prompt": "Reply with OK.",
                                                          "max_tokens": 1, "temperature": 0})
    if response.status_code != 200:
        raise CheckFailed(f"HTTP {response.status_code}")
    try:
        choices = response.json()["choices"]
        text = str(choices[0]["text"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CheckFailed(f"unexpected body: {exc}") from exc
    return f"completion {text!r}", model


CHECKS: tuple[tuple[str, Callable[[httpx.Client, str, str | None], tuple[str, str | None]]], ...] = (
    ("/health", _health), ("/v1/models", _models), ("/metrics", _metrics), ("/v1/completions", _completion))


def _attempt(client: httpx.Client, url: str, model: str | None, name: str,
             check: Callable[[httpx.Client, str, str | None], tuple[str, str | None]],
             settings: SmokeSettings, sleep: Callable[[float], None]) -> tuple[CheckResult, str | None]:
    started, delay, detail = time.monotonic(), settings.backoff, ""
    for attempt in range(1, settings.retries + 2):
        try:
            detail, model = check(client, url, model)
            return CheckResult(url, name, True, detail, time.monotonic() - started, attempt), model
        except CheckFailed as exc:
            detail = str(exc)
        except httpx.TimeoutException:
            detail = f"timed out after {settings.timeout:g}s"
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"
        if attempt <= settings.retries:
            sleep(delay)
            delay *= 2
    return CheckResult(url, name, False, detail, time.monotonic() - started, settings.retries + 1), model


def smoke(targets: Sequence[tuple[str, str | None]], settings: SmokeSettings | None = None,
          sleep: Callable[[float], None] = time.sleep) -> list[EndpointResult]:
    """Run every check against every (base URL, expected model) target."""
    settings = settings or SmokeSettings()
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    results = []
    with httpx.Client(timeout=settings.timeout, headers=headers, follow_redirects=True) as client:
        for url, expected in targets:
            endpoint = EndpointResult(url.rstrip("/"), expected)
            model = expected
            for name, check in CHECKS:
                result, model = _attempt(client, endpoint.url, model, name, check, settings, sleep)
                endpoint.checks.append(result)
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
