"""The release-catalog generator reads vLLM's parser construction the way ``_compute_kwargs`` and
argparse build it, on a hand-written miniature of a release's sources (no network)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import vllm_release_catalog as tool

CONFIG = '''
from typing import Literal
from pydantic import Field
from .other import CompilationConfig

TokenizerMode = Literal["auto", "slow"]

class ModelConfig:
    enforce_eager: bool = False
    tokenizer_mode: TokenizerMode = "auto"
    plugin_mode: TokenizerMode | str = "auto"
    max_model_len: int | None = None
    max_num_seqs: int = Field(default=DEFAULT_SEQS, ge=1)
    compilation_config: CompilationConfig = Field(default_factory=CompilationConfig)
    enable_thing: bool | str | None = None
    served_model_name: list[str] | None = None

DEFAULT_SEQS = 256
'''
OTHER = "class CompilationConfig:\n    level: int = 0\n"
ARG_UTILS = '''
import argparse
from vllm.config import ModelConfig

class EngineArgs:
    @staticmethod
    def add_cli_args(parser):
        model_kwargs = get_kwargs(ModelConfig)
        group = parser.add_argument_group()
        group.add_argument("--enforce-eager", **model_kwargs["enforce_eager"])
        group.add_argument("--tokenizer-mode", **model_kwargs["tokenizer_mode"])
        group.add_argument("--plugin-mode", **model_kwargs["plugin_mode"])
        group.add_argument("--max-model-len", **model_kwargs["max_model_len"])
        group.add_argument("--max-num-seqs", **{**model_kwargs["max_num_seqs"], "default": None})
        group.add_argument("--compilation-config", "-cc", **model_kwargs["compilation_config"])
        group.add_argument("--enable-thing", **model_kwargs["enable_thing"])
        group.add_argument("--served-model-name", **model_kwargs["served_model_name"])
        parser.add_argument("--disable-log-stats", action="store_true")
        parser.add_argument("--disable-log-requests", action=argparse.BooleanOptionalAction,
                            help="[DEPRECATED] Disable logging requests.", deprecated=True)
        parser.add_argument("--load-format", type=str, choices=["auto", "pt"], default="auto")
'''
CLI_ARGS = '''
from vllm.engine.arg_utils import EngineArgs

class BaseFrontendArgs:
    @classmethod
    def add_cli_args(cls, parser):
        frontend_kwargs = get_kwargs(cls)
        for key, value in frontend_kwargs.items():
            parser.add_argument(f"--{key.replace('_', '-')}", **value)

class FrontendArgs(BaseFrontendArgs):
    port: int = 8000
    uvicorn_log_level: Literal["info", "debug"] = "info"

def make_arg_parser(parser):
    parser.add_argument("--headless", action="store_true", default=False)
    parser = FrontendArgs.add_cli_args(parser)
    return EngineArgs.add_cli_args(parser)
'''
LOGGERS = '''
class PrometheusStatLogger:
    def __init__(self):
        self.gauge_running = self._gauge_cls(name="vllm:num_requests_running", documentation="Running.")
        if self.show_hidden_metrics:
            self.old = self._gauge_cls(name="vllm:gpu_cache_usage_perc",
                                       documentation="GPU KV-cache usage. DEPRECATED: Use vllm:kv_cache_usage_perc.")
        self.tokens = self._counter_cls(name="vllm:prompt_tokens", documentation="Prompt tokens.")
        self.ttft = self._histogram_cls(name="vllm:time_to_first_token_seconds", documentation="TTFT.")
'''


def _release(tmp_path: Path) -> tool.SourceIndex:
    files = {"vllm/config/__init__.py": "from vllm.config.model import ModelConfig\n",
             "vllm/config/model.py": CONFIG, "vllm/config/other.py": OTHER,
             "vllm/engine/arg_utils.py": ARG_UTILS, "vllm/entrypoints/openai/cli_args.py": CLI_ARGS,
             "vllm/v1/metrics/loggers.py": LOGGERS}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tool.SourceIndex(tmp_path)


def _without_source(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {k: v for k, v in facts.items() if k != "source"} for name, facts in found.items()}


def test_flags_get_the_kinds_vllms_parser_gives_them(tmp_path: Path) -> None:
    assert _without_source(tool.ParserReader(_release(tmp_path)).read()) == {
        "--compilation-config": {"kind": "json", "aliases": ["-cc"]},
        "--disable-log-requests": {"kind": "bool", "negatable": True, "deprecated": True},
        "--disable-log-stats": {"kind": "bool", "negatable": False},
        "--enable-thing": {"kind": "str", "optional_value": True},
        "--enforce-eager": {"kind": "bool", "negatable": True, "default": False},
        "--headless": {"kind": "bool", "negatable": False, "default": False},
        "--load-format": {"kind": "choice", "choices": ["auto", "pt"], "default": "auto"},
        "--max-model-len": {"kind": "int"},
        "--max-num-seqs": {"kind": "int"},  # the explicit default None wins over the field's 256
        "--plugin-mode": {"kind": "str", "default": "auto"},  # Literal | str stays open
        "--port": {"kind": "int", "default": 8000},
        "--served-model-name": {"kind": "list"},
        "--tokenizer-mode": {"kind": "choice", "choices": ["auto", "slow"], "default": "auto"},
        "--uvicorn-log-level": {"kind": "choice", "choices": ["debug", "info"], "default": "info"},
    }


def test_metrics_are_read_with_hidden_and_deprecated_marks(tmp_path: Path) -> None:
    assert _without_source(tool.read_metrics(_release(tmp_path))) == {
        "vllm:gpu_cache_usage_perc": {"type": "gauge", "hidden": True, "deprecated": True,
                                      "replaced_by": "vllm:kv_cache_usage_perc"},
        "vllm:num_requests_running": {"type": "gauge"},
        "vllm:prompt_tokens": {"type": "counter"},
        "vllm:time_to_first_token_seconds": {"type": "histogram"},
    }


def test_spans_join_consecutive_releases_with_equal_facts() -> None:
    per_release = {"0.1.0": {"--a": {"kind": "int", "source": "x.py"}},
                   "0.2.0": {"--a": {"kind": "int", "source": "y.py"}},
                   "0.3.0": {},
                   "0.4.0": {"--a": {"kind": "str", "source": "y.py"}}}
    assert tool.spans(list(per_release), per_release) == {"--a": [
        {"from": "0.1.0", "to": "0.2.0", "kind": "int", "sources": ["x.py", "y.py"]},
        {"from": "0.4.0", "to": "0.4.0", "kind": "str", "sources": ["y.py"]}]}
