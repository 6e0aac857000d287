"""The vLLM release contract: catalog facts checked by hand against each release's source, the
parser's spellings, spec-time refusal, and findings on a hand-written manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli_check import invoke
from tests.test_spec_validation import Build, service_errors
from vllm_infra.catalog.vllm import LoadSignal, VllmVersion
from vllm_infra.catalog.vllm_releases import FlagUse, metric_for, release_catalog
from vllm_infra.checker.reading.server import engine_args
from vllm_infra.spec import VllmServiceSpec

CATALOG = release_catalog()
HANDWRITTEN = Path(__file__).parent / "fixtures" / "handwritten"


def v(text: str) -> VllmVersion:
    version = VllmVersion.parse(text)
    assert version is not None
    return version


def flag_span(name: str) -> tuple[str, str] | None:
    """(first, last) release defining ``name``, when it is one unbroken span."""
    releases = [str(r.version) for r in CATALOG.releases if name in CATALOG.flags(r.version)]
    return (releases[0], releases[-1]) if releases else None


def metric_span(name: str, *, shown: bool) -> tuple[str, str] | None:
    releases = [str(r.version) for r in CATALOG.releases if name in CATALOG.metrics(r.version)
                and (not shown or not CATALOG.metrics(r.version)[name].hidden)]
    return (releases[0], releases[-1]) if releases else None


def test_catalog_covers_every_release_from_0_8_0_to_the_newest() -> None:
    versions = [str(r.version) for r in CATALOG.releases]
    assert versions[0] == "0.8.0" and versions[-1] == "0.33.0"
    assert {"0.10.1.1", "0.18.0", "0.18.1", "0.19.0"} <= set(versions) and "0.18.2" not in versions
    assert [r.version for r in CATALOG.releases] == sorted(r.version for r in CATALOG.releases)
    assert [r.date for r in CATALOG.releases] == sorted(r.date for r in CATALOG.releases)
    assert all(len(r.sha256) == 64 and r.wheel.startswith(f"vllm-{r.version}") for r in CATALOG.releases)


# Each fact below was read by hand in the release's own source (arg_utils.py, cli_args.py, config/,
# v1/metrics/loggers.py), not only in the generated data.
@pytest.mark.parametrize(("flag", "span"), [
    ("--disable-log-requests", ("0.8.0", "0.16.0")),  # deprecated in 0.10.1, gone in 0.17.0
    ("--enable-log-requests", ("0.10.1", "0.33.0")),
    ("--max-num-partial-prefills", ("0.8.0", "0.26.0")),  # removed in 0.27.0
    ("--max-long-partial-prefills", ("0.8.0", "0.26.0")),
    ("--override-attention-dtype", ("0.9.2", "0.27.1")),  # removed in 0.28.0
    ("--calculate-kv-scales", ("0.8.0", "0.27.1")),
    ("--shutdown-timeout", ("0.18.0", "0.33.0")),
    ("--nnodes", ("0.11.1", "0.33.0")),  # multiprocessing multi-node: 0.11.1, not 0.18 as first reported
    ("--node-rank", ("0.11.1", "0.33.0")),
    ("--swap-space", ("0.8.0", "0.17.1")),
])
def test_flag_lifetimes_read_by_hand(flag: str, span: tuple[str, str]) -> None:
    assert flag_span(flag) == span


def test_access_log_filter_arrived_in_0_16_0() -> None:
    assert CATALOG.first_with("--disable-access-log-for-endpoints") == v("0.16.0")


@pytest.mark.parametrize(("metric", "shown", "span"), [
    ("vllm:kv_cache_usage_perc", True, ("0.9.2", "0.33.0")),
    ("vllm:gpu_cache_usage_perc", True, ("0.8.0", "0.11.0")),  # hidden in 0.11.1-0.11.2, removed in 0.12.0
    ("vllm:gpu_cache_usage_perc", False, ("0.8.0", "0.11.2")),
    ("vllm:inter_token_latency_seconds", True, ("0.10.2", "0.33.0")),
    ("vllm:time_per_output_token_seconds", True, ("0.8.0", "0.11.2")),  # hidden 0.12.0-0.14.1
    ("vllm:time_per_output_token_seconds", False, ("0.8.0", "0.14.1")),
])
def test_metric_lifetimes_read_by_hand(metric: str, shown: bool, span: tuple[str, str]) -> None:
    assert metric_span(metric, shown=shown) == span


def test_renamed_metrics_name_their_replacement_and_counters_gain_total() -> None:
    assert CATALOG.metrics(v("0.11.1"))["vllm:gpu_cache_usage_perc"].replaced_by == "vllm:kv_cache_usage_perc"
    assert CATALOG.metrics(v("0.33.0"))["vllm:prompt_tokens_total"].name == "vllm:prompt_tokens"
    assert metric_for(LoadSignal.KV_CACHE_USAGE, v("0.9.1")) == "vllm:gpu_cache_usage_perc"
    assert metric_for(LoadSignal.KV_CACHE_USAGE, v("0.9.2")) == "vllm:kv_cache_usage_perc"


def test_default_gpu_memory_utilization_rose_to_0_92_in_0_20_0() -> None:
    assert CATALOG.flags(v("0.19.1"))["--gpu-memory-utilization"].default == 0.9
    assert CATALOG.flags(v("0.20.0"))["--gpu-memory-utilization"].default == 0.92


@pytest.mark.parametrize(("token", "use", "flag"), [
    ("--max_num_seqs", FlagUse.KNOWN, "--max-num-seqs"),
    ("--tensor_parallel_size=2", FlagUse.KNOWN, "--tensor-parallel-size"),
    ("--no-enable-prefix-caching", FlagUse.NEGATED, "--enable-prefix-caching"),
    ("--compilation-config.cudagraph_mode", FlagUse.KNOWN, "--compilation-config"),
    ("--max-num-seq", FlagUse.KNOWN, "--max-num-seqs"),  # argparse's allow_abbrev: a unique prefix
    ("-tp", FlagUse.KNOWN, "--tensor-parallel-size"),
    ("--no-disable-log-stats", FlagUse.UNKNOWN, None),  # store_true: no --no- form
    ("--disable-log-requests", FlagUse.UNKNOWN, None),
    ("--max-num", FlagUse.UNKNOWN, None),  # ambiguous prefix
])
def test_tokens_resolve_as_vllms_parser_reads_them(token: str, use: FlagUse, flag: str | None) -> None:
    resolved = CATALOG.resolve(token, v("0.33.0"))
    assert (resolved.use, resolved.flag.name if resolved.flag else None) == (use, flag)


def test_switches_do_not_swallow_the_model() -> None:
    args = engine_args({"image": "vllm/vllm-openai:v0.33.0",
                        "args": ["--enforce-eager", "Qwen/Qwen3-8B", "--max_num_seqs", "64", "-tp", "2"]})
    assert args.model == "Qwen/Qwen3-8B"
    assert args.flags == {"enforce-eager": True, "max-num-seqs": "64", "tensor-parallel-size": "2"}


@pytest.mark.parametrize(("extra", "expected"), [
    ({"disable-log-requests": True},
     "--disable-log-requests is not a flag of vLLM 0.33.0 (removed in 0.17.0); did you mean --enable-log-requests?"),
    ({"max-num-seq": 64}, "--max-num-seq is not a flag of vLLM 0.33.0; did you mean --max-num-seqs?"),
    ({"disable-log-stats": False},
     "--disable-log-stats is a plain switch in vLLM 0.33.0 (no --no-disable-log-stats); leave it out to keep it off"),
    ({"max-num-batched-tokens": True}, "--max-num-batched-tokens takes a int value in vLLM 0.33.0, not true/false"),
    ({"enforce-eager": "yes"}, "--enforce-eager is a switch in vLLM 0.33.0: set it to true or false"),
    ({"frobnicate": 1}, "--frobnicate is not a flag of vLLM 0.33.0"),
    ({"uvicorn-log-level": "loud"},
     "--uvicorn-log-level=loud: vLLM 0.33.0 accepts critical, debug, error, info, trace, warning"),
])
def test_extra_args_are_checked_against_the_release(service_data: Build, extra: dict[str, Any],
                                                      expected: str) -> None:
    data = service_data(image={"tag": "v0.33.0"}, model={"extra_args": extra})
    [(loc, message)] = service_errors(data)
    assert (loc, message) == (f"model.extra_args.{next(iter(extra))}", expected)


def test_a_flag_from_a_later_release_names_it(service_data: Build) -> None:
    data = service_data(image={"tag": "v0.11.0"}, model={"extra_args": {"stream-interval": 8}})
    assert service_errors(data) == [("model.extra_args.stream-interval",
                                     "--stream-interval is not a flag of vLLM 0.11.0 (added in 0.11.1); did you mean "
                                     "--eplb-step-interval?")]


def test_a_drain_timeout_needs_a_release_that_drains(service_data: Build) -> None:
    data = service_data(image={"tag": "v0.17.1"}, lifecycle={"drain": {"request_timeout": 90}})
    assert service_errors(data) == [(
        "lifecycle.drain.request_timeout", "vLLM 0.17.1 aborts in-flight requests on SIGTERM; letting them finish "
        "needs --shutdown-timeout (vLLM 0.18.0 or later): set image.tag to v0.18.0 or later, or remove "
        "request_timeout")]
    assert VllmServiceSpec.model_validate(service_data(image={"tag": "v0.17.1"})).image.tag == "v0.17.1"


@pytest.mark.parametrize(("image", "expected"), [
    ({"tag": "v0.18.2"}, ("image.tag", "vLLM 0.18.2 was never released (releases 0.18.x: 0.18.0, 0.18.1; newest "
                                       "0.33.0)")),
    ({"tag": "v0.7.3"}, ("image.tag", "vLLM 0.7.3 is older than 0.8.0, the oldest release vllm-infra supports")),
    ({"repository": "ghcr.io/acme/vllm", "tag": "build-7", "vllm_version": "0.34.0"},
     ("image.vllm_version", "vLLM 0.34.0 is newer than this vllm-infra's release catalog (newest 0.33.0, "
                            "2026-11-02); upgrade vllm-infra")),
])
def test_unpublished_releases_are_refused(service_data: Build, image: dict[str, Any],
                                          expected: tuple[str, str]) -> None:
    assert service_errors(service_data(image=image)) == [expected]


def test_synth_refuses_a_removed_flag_with_exit_2(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.yaml").write_text("name: t\nruntime: python\n")
    (stacks / "Pulumi.dev.yaml").write_text(
        "config:\n  vllm-infra:fleet:\n    environment: dev\n    policy_profile: dev\n    services:\n"
        "      - name: chat\n        image: {tag: v0.33.0}\n        accelerator: {type: L4}\n"
        "        model:\n          id: Qwen/Qwen2.5-7B-Instruct\n"
        "          revision: a09a35458c702b33eeacc393d103063234e8bc28\n"
        "          extra_args: {disable-log-requests: true}\n")
    code, out, err = invoke("synth", "--stacks-dir", str(stacks), "--out", str(tmp_path / "out"))
    assert code == 2
    assert ("services[0].model.extra_args.disable-log-requests: --disable-log-requests is not a flag of vLLM 0.33.0 "
            "(removed in 0.17.0); did you mean --enable-log-requests?") in out + err
    assert not (tmp_path / "out").exists()


def test_check_reports_removed_flags_and_metrics_on_handwritten_yaml() -> None:
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", str(HANDWRITTEN / "release-contract.yaml"))
    found = [(f["rule"], f["severity"], f["message"]) for f in json.loads(out)["findings"]
             if f["rule"] == "VI-VER-002" or "emitted" in f["message"]]
    assert code == 1
    assert found == [
        ("VI-VER-002", "critical", "--disable-log-requests is not a flag of vLLM 0.33.0 (removed in 0.17.0); did you "
                                   "mean --enable-log-requests?"),
        ("VI-AVL-007", "high", "vllm:gpu_cache_usage_perc is not emitted by vLLM 0.33.0, so the autoscaler would see "
                               "no data; use vllm:kv_cache_usage_perc"),
        ("VI-AVL-007", "high", "vllm:time_per_output_token_seconds_bucket is not emitted by vLLM 0.33.0, so the "
                               "autoscaler would see no data; use vllm:inter_token_latency_seconds"),
    ]


UPGRADE_STACK = """config:
  vllm-infra:fleet:
    environment: prod
    namespace: {{name: llm}}
    spare_gpus: {{L40S: 1}}
    services:
      - name: chat
        image: {{tag: v0.9.1, digest: "sha256:{digest}"}}
        accelerator: {{type: L40S}}
        model:
          id: Qwen/Qwen2.5-7B-Instruct
          revision: a09a35458c702b33eeacc393d103063234e8bc28
          extra_args: {{{extra}}}
        availability: {{disruption_budget: {{max_unavailable: 1}}}}
        autoscaling: {{min_replicas: 2, max_replicas: 4, metric: kv-cache-usage}}
"""


def _upgrade_stack(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: t\nruntime: python\n")
    (tmp_path / "Pulumi.prod.yaml").write_text(UPGRADE_STACK.format(digest="b" * 64, extra=extra))
    return tmp_path


def test_upgrade_check_names_what_breaks_with_exit_1(tmp_path: Path) -> None:
    stacks = _upgrade_stack(tmp_path, "disable-log-requests: true, swap-space: 8")
    code, out, _ = invoke("upgrade-check", "--to", "0.33.0", "--stacks-dir", str(stacks))
    assert code == 1
    assert out.splitlines() == [
        "prod:",
        "  chat: 0.9.1 -> 0.33.0: breaks",
        "    - BREAKS model.extra_args.disable-log-requests: --disable-log-requests is not a flag of vLLM 0.33.0 "
        "(removed in 0.17.0); did you mean --enable-log-requests?",
        "    - BREAKS model.extra_args.swap-space: --swap-space is not a flag of vLLM 0.33.0 (removed in 0.18.0)",
    ]


def test_upgrade_check_lists_renames_repins_and_new_flags(tmp_path: Path) -> None:
    stacks = _upgrade_stack(tmp_path, "enable-prefix-caching: true")
    code, out, _ = invoke("upgrade-check", "--to", "0.18.0", "--stacks-dir", str(stacks), "-o", "json")
    [chat] = json.loads(out)["prod"]
    assert code == 0
    assert (chat["pinned"], chat["target"], chat["breaks"], chat["breaking"]) == ("0.9.1", "0.18.0", [], False)
    assert chat["changes"][:4] == [
        "image tag v0.18.0", "re-pin image.digest for v0.18.0", "renders --shutdown-timeout (new in this release)",
        "autoscaler metric vllm:gpu_cache_usage_perc -> vllm:kv_cache_usage_perc (rendered for you; dashboards and "
        "alerts on vllm:gpu_cache_usage_perc need the same change)"]
    assert "default of --gpu-memory-utilization: 0.9 -> 0.92" not in chat["changes"]  # the spec sets it


def test_upgrade_check_refuses_an_unreleased_target() -> None:
    code, _, err = invoke("upgrade-check", "--to", "0.18.2")
    assert code == 2
    assert "vLLM 0.18.2 was never released" in err


def test_upgrade_check_warns_about_deprecated_flags(tmp_path: Path) -> None:
    stacks = _upgrade_stack(tmp_path, "disable-log-requests: true")
    _, out, _ = invoke("upgrade-check", "--to", "0.16.0", "--stacks-dir", str(stacks), "-o", "json")
    [chat] = json.loads(out)["prod"]
    assert "--disable-log-requests is deprecated in 0.16.0: plan its replacement" in chat["changes"]
