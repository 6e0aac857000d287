"""`vllm-infra plan` and `vllm-infra models`: numbers, price overrides and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import STACKS_DIR
from vllm_infra.cli import app

runner = CliRunner()


def plan_json(*args: str) -> dict[str, list[dict[str, object]]]:
    result = runner.invoke(app, ["plan", "--stacks-dir", str(STACKS_DIR), "-o", "json", *args])
    assert result.exit_code == 0, result.stderr
    loaded: dict[str, list[dict[str, object]]] = json.loads(result.stdout)
    return loaded


def test_plan_rows_for_the_reference_stacks() -> None:
    plan = plan_json()
    assert sorted(plan) == ["dev", "prod", "staging"]
    prod = {row["service"]: row for row in plan["prod"]}
    big = prod["llama-70b"]
    assert (big["gpu_type"], big["gpus_per_replica"], big["replicas_min"], big["replicas_max"]) == (
        "H100-80GB", 4, 2, 4)
    assert big["kv_cache_tokens"] == 451_344  # vLLM 0.32 counts CUDA graphs (3.1 GiB per GPU) inside the budget
    assert (big["fit"], prod["llama-405b"]["fit"]) == ("fits", "fits")
    assert (big["loading"], big["startup_seconds"], big["prefetch_seconds"]) == ("prefetch", 600, 540)
    assert big["gpu_hours_max"] == 4 * 4 * 730
    assert big["scheduled"] is True
    assert round(float(str(big["gpu_hours_min"]))) == 6796  # 2 replicas + 1 more during 11h x 5 days a week
    assert prod["llama-405b"]["gpus_per_replica"] == 16
    assert prod["llama-405b"]["startup_seconds"] == 3360
    dev = {row["service"]: row for row in plan["dev"]}
    assert (dev["llama-8b"]["replicas_min"], dev["llama-8b"]["gpu_hours_min"], dev["llama-8b"]["cost_min"]) == (
        0, 0, 0)


def test_price_overrides(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("L4: 0.5\n")
    dev = {row["service"]: row for row in plan_json("dev", "--prices", str(prices))["dev"]}
    assert dev["qwen-7b"]["cost_min"] == 365.0
    dev = {row["service"]: row for row in plan_json("dev", "--prices", str(prices), "--price", "L4=1")["dev"]}
    assert dev["qwen-7b"]["cost_min"] == 730.0


def test_bad_price_exits_2() -> None:
    result = runner.invoke(app, ["plan", "--stacks-dir", str(STACKS_DIR), "--price", "H100=2"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: invalid GPU prices"
    assert result.stderr.splitlines()[1].startswith(
        "  H100=2: expected <GPU type>=<USD per GPU-hour> (a finite number >= 0) with a type among")


def test_plan_table_shows_every_service() -> None:
    result = runner.invoke(app, ["plan", "--stacks-dir", str(STACKS_DIR), "prod"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for service in ("llama-8b", "qwen-7b", "llama-70b", "llama-405b"):
        assert service in result.stdout
    assert "16 x H100-80GB" in result.stdout
    assert "total USD/month:" in result.stdout


def test_models_list_and_import(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "meta-llama/Llama-3.1-405B-Instruct" in listed.stdout
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"hidden_size": 3584, "num_attention_heads": 28, "num_key_value_heads": 4,
                                  "num_hidden_layers": 28, "vocab_size": 152064, "intermediate_size": 18944,
                                  "max_position_embeddings": 32768, "torch_dtype": "bfloat16"}))
    imported = runner.invoke(app, ["models", "--import", str(config)])
    assert imported.exit_code == 0
    assert imported.stdout.splitlines()[:4] == ["architecture:", "  attention_heads: 28", "  context_length: 32768",
                                                "  head_dim: 128"]
    config.write_text(json.dumps({**json.loads(config.read_text()), "quantization_config": {
        "quant_method": "awq", "bits": 4, "group_size": 128}}))
    quantized = runner.invoke(app, ["models", "--import", str(config)])
    assert quantized.exit_code == 0
    assert "  quantization: awq\n  quantized_weight_bytes: 0.51953125\n" in quantized.stdout
    assert "sliding_window" not in quantized.stdout and "local_layers" not in quantized.stdout  # defaults left out
    broken = runner.invoke(app, ["models", "--import", str(tmp_path / "missing.json")])
    assert broken.exit_code == 2


@pytest.mark.parametrize("price", ["L4=nan", "L4=-1", "L4=inf"])
def test_prices_must_be_finite_and_not_negative(price: str) -> None:
    result = runner.invoke(app, ["plan", "--stacks-dir", str(STACKS_DIR), "-o", "json", "--price", price])
    assert result.exit_code == 2 and f"{price}: expected" in result.stderr and result.stdout == ""


def test_piped_tables_keep_their_natural_width() -> None:
    """Piped into a file or a program there is no terminal width: no cell is cut at 80 columns."""
    for command in (["plan", "--stacks-dir", str(STACKS_DIR), "prod"], ["models"], ["rules"]):
        result = runner.invoke(app, command, env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.stderr
        assert "…" not in result.stdout
        assert max(len(line) for line in result.stdout.splitlines()) > 80
