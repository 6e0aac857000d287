"""``vllm-infra plan`` (capacity and cost per stack) and ``vllm-infra models`` (the catalog)."""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from vllm_infra.cli.fleets import load_fleets
from vllm_infra.cli.output import fail, print_table, stdout
from vllm_infra.cli.synth import STACKS_DIR
from vllm_infra.vocabulary.reporting import DataFormat


def _prices(overrides: list[str] | None, prices_file: Path | None) -> dict[Any, float]:
    from ruamel.yaml import YAML

    from vllm_infra.catalog.gpus import GpuType

    raw: dict[str, Any] = {}
    if prices_file is not None:
        try:
            loaded = YAML(typ="safe").load(prices_file.read_text())
        except (OSError, ValueError) as exc:
            fail(f"cannot read prices from {prices_file}: {exc}")
        if not isinstance(loaded, dict):
            fail(f"{prices_file}: expected a mapping of GPU type to USD per GPU-hour")
        raw.update(loaded)
    for item in overrides or []:
        gpu, _, value = item.partition("=")
        raw[gpu.strip()] = value.strip()
    prices: dict[Any, float] = {}
    problems = []
    for gpu, value in raw.items():
        try:
            price = float(value)
            if not math.isfinite(price) or price < 0:
                raise ValueError(value)
            prices[GpuType(str(gpu))] = price
        except ValueError:
            known = ", ".join(t.value for t in GpuType)
            problems.append(f"{gpu}={value}: expected <GPU type>=<USD per GPU-hour> (a finite number >= 0) with a "
                            f"type among {known}")
    if problems:
        fail("invalid GPU prices", problems)
    return prices


def _fmt(value: float | None, pattern: str) -> str:
    return "?" if value is None else pattern.format(value)


def plan(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to plan (default: every stack).",
                                                       show_default=False)] = None,
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    price: Annotated[list[str] | None, typer.Option("--price", help="Override a price: GPU=USD per GPU-hour, "
                                                                    "e.g. H100-80GB=2.49 (repeatable).")] = None,
    prices: Annotated[Path | None, typer.Option("--prices", help="YAML mapping GPU type -> USD per GPU-hour.")]
    = None,
    output: Annotated[DataFormat, typer.Option("--output", "-o", help="Table or JSON.")] = DataFormat.TEXT,
) -> None:
    """Capacity and cost per stack: GPUs x replicas, per-GPU weights and KV cache (tokens, and how
    many full-length sequences fit), how weights load and a cold start takes (with a prefetch Job's
    download, which the first rollout waits for), GPU-hours per month and cost.

    Prices are indicative on-demand list prices per GPU-hour unless overridden. Scheduled
    windows (KEDA cron triggers) raise the minimum where their cron expressions are simple.
    """
    from rich.table import Table

    from vllm_infra.operations.plan import plan_fleet

    table_prices = _prices(price, prices)
    fleets = load_fleets(stacks_dir, stacks)
    rows = {name: plan_fleet(fleet, table_prices) for name, fleet in fleets.items()}
    if output == DataFormat.JSON:
        stdout.out(json.dumps({name: [{**asdict(row), "cost_min": round(row.cost_min, 2),
                                       "cost_max": round(row.cost_max, 2)} for row in stack_rows]
                               for name, stack_rows in rows.items()}, indent=2), highlight=False)
        return
    for name, stack_rows in rows.items():
        table = Table(title=f"{name} ({fleets[name].namespace.name})", title_justify="left")
        for column in ("service", "GPUs", "replicas", "weights/GPU", "KV cache/GPU", "KV tokens", "ctx",
                       "x ctx", "fit", "loading", "startup", "GPU-h/month", "USD/month"):
            table.add_column(column, justify="left" if column == "service" else "right")
        for row in stack_rows:
            replicas = str(row.replicas_min) if row.replicas_min == row.replicas_max else \
                f"{row.replicas_min}-{row.replicas_max}"
            hours = f"{row.gpu_hours_min:,.0f}" if row.gpu_hours_min == row.gpu_hours_max else \
                f"{row.gpu_hours_min:,.0f}-{row.gpu_hours_max:,.0f}"
            cost = f"{row.cost_min:,.0f}" if row.cost_min == row.cost_max else \
                f"{row.cost_min:,.0f}-{row.cost_max:,.0f}"
            table.add_row(row.service, f"{row.gpus_per_replica} x {row.gpu_type}", replicas,
                          _fmt(row.weights_per_gpu_gib, "{:.1f} GiB"), _fmt(row.kv_cache_per_gpu_gib, "{:.1f} GiB"),
                          _fmt(row.kv_cache_tokens, "{:,}"), _fmt(row.max_model_len, "{:,}"),
                          _fmt(row.full_length_sequences, "{:.1f}"), row.fit or "?", row.loading,
                          f"{row.startup_seconds // 60}m" + (f" (+{row.prefetch_seconds // 60}m prefetch)"
                                                             if row.prefetch_seconds else ""),
                          hours + ("*" if row.scheduled else ""), cost)
        total_min = sum(r.cost_min for r in stack_rows)
        total_max = sum(r.cost_max for r in stack_rows)
        table.caption = f"total USD/month: {total_min:,.0f}" + (f"-{total_max:,.0f}" if total_max != total_min
                                                                else "") + (
            "   * includes scheduled minimum windows" if any(r.scheduled for r in stack_rows) else "")
        print_table(table)


def models(
    import_config: Annotated[Path | None, typer.Option("--import", help="Print an `architecture:` block for a "
                                                                       "Hugging Face config.json (and the "
                                                                       "model.safetensors.index.json beside it).")]
    = None,
    parameters: Annotated[float | None, typer.Option(help="Parameter count to use instead of the estimate from "
                                                          "config.json shapes.")] = None,
) -> None:
    """List the model catalog, or turn a local config.json into an inline architecture block."""
    from rich.table import Table

    from vllm_infra.catalog.architectures import MODEL_CATALOG
    from vllm_infra.catalog.hf_config import UnsizedArchitecture, read_model_config
    from vllm_infra.serialization.emitter import dump
    from vllm_infra.spec.model import ArchitectureSpec

    if import_config is not None:
        try:
            arch = read_model_config(import_config, parameters)
            ArchitectureSpec.model_validate(asdict(arch))  # the bounds the spec applies to an inline block
        except UnsizedArchitecture as exc:
            fail(f"cannot size {import_config}: {exc}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError, OverflowError) as exc:
            fail(f"cannot read a model architecture from {import_config}: {type(exc).__name__}: "
                 f"{str(exc).splitlines()[0][:200]}")
        defaults = {item.name: item.default for item in fields(arch)}
        block = {key: value for key, value in asdict(arch).items()
                 if value is not None and value != defaults.get(key, MISSING)}
        stdout.out(dump({"architecture": block}), end="", highlight=False)
        return
    table = Table("model", "params", "layers", "heads (KV)", "head dim", "context", title="model catalog")
    for name, arch in sorted(MODEL_CATALOG.items()):
        params = f"{arch.parameters / 1e9:.1f}B" + (f" ({arch.active_parameters / 1e9:.1f}B active)"
                                                     if arch.active_parameters else "")
        table.add_row(name, params, str(arch.layers), f"{arch.attention_heads} ({arch.kv_heads})",
                      str(arch.head_dim), f"{arch.context_length:,}")
    print_table(table)
