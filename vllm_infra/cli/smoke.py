"""``vllm-infra smoke``: post-deploy health checks of vLLM endpoints."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from vllm_infra.cli.output import fail, say, stderr
from vllm_infra.vocabulary.exits import ExitCode


def smoke(
    urls: Annotated[list[str], typer.Argument(help="Base URLs of vLLM servers, e.g. http://llama.example:8000.",
                                              show_default=False)],
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Served model each URL must list (one "
                                                                          "for all URLs, or one per URL).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.", min=0.1)] = 10.0,
    retries: Annotated[int, typer.Option(help="Retries per check.", min=0)] = 3,
    backoff: Annotated[float, typer.Option(help="Seconds before the first retry (doubles each time).", min=0)] = 1.0,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key, if any.")]
    = "VLLM_API_KEY",
    webhook: Annotated[str | None, typer.Option(help="URL to POST a JSON alert to when a check fails.")] = None,
) -> None:
    """Check /health, /v1/models, /metrics and one tiny completion on each URL, with timings,
    retries with exponential backoff and a timeout. Exit codes: 0 healthy, 1 a check failed,
    2 bad input."""
    from vllm_infra.operations.smoke import (
        CheckResult,
        SmokeSettings,
        alert_payload,
        redact_url,
        send_alert,
        smoke,
        summary,
    )

    problems = [redact_url(url) for url in urls if not url.startswith(("http://", "https://")) or
                redact_url(url) == "<unparseable URL>"]
    if problems:
        fail("URLs must be well-formed and start with http:// or https://", problems)
    models = model or []
    if len(models) not in (0, 1, len(urls)):
        fail(f"give one --model for all URLs or one per URL ({len(urls)} URLs, {len(models)} models)")
    expected = [models[0] if len(models) == 1 else (models[i] if models else None) for i in range(len(urls))]
    def done(check: CheckResult) -> None:
        state = "ok  " if check.ok else "FAIL"
        tries = f", {check.attempts} attempts" if check.attempts > 1 else ""
        say(f"{state} {check.url}{check.check}: {check.detail} ({check.seconds * 1000:.0f} ms{tries})")

    def retrying(url: str, check: str, attempt: int, detail: str, delay: float) -> None:
        say(f"...  {url}{check}: {detail}; retry {attempt} of {retries} in {delay:g}s", stderr)

    started = time.monotonic()
    results = smoke(list(zip(urls, expected, strict=True)), SmokeSettings(
        timeout=timeout, retries=retries, backoff=backoff, api_key=os.environ.get(api_key_env) or None),
        done=done, retrying=retrying)
    line = summary(results, time.monotonic() - started)
    say(line)
    if all(r.ok for r in results):
        return
    if webhook:
        error = send_alert(webhook, alert_payload(results, line), timeout)
        if error:
            say(f"warning: the alert webhook failed: {error}", stderr)
    raise typer.Exit(int(ExitCode.FINDINGS))
