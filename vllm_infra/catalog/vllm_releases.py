"""vLLM's release history as data: which releases exist and which ``vllm serve`` flags and metrics
each defines, read from every release's wheel by ``tools/vllm_release_catalog.py``.

Flags are resolved the way vLLM's ``FlexibleArgumentParser`` and argparse resolve them:
underscores in the name become dashes, ``--no-x`` exists for BooleanOptionalAction flags only,
``--x.key`` addresses one key of a JSON flag, and a unique prefix of a long option is that option
(argparse's ``allow_abbrev``, which vLLM leaves on).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property
from importlib import resources
from typing import Any

from vllm_infra.catalog.vllm import LORA_RANKS, LoadSignal, VllmVersion

VLLM_IMAGE_REPOSITORIES = ("vllm/vllm-openai", "docker.io/vllm/vllm-openai", "vllm/vllm-openai-cpu",
                           "public.ecr.aws/q9t5s3a7/vllm-release-repo",
                           "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo")
"""Repositories whose tags are vLLM release names (``v0.11.0``); any other tag must be declared."""


class FlagKind(StrEnum):
    """What argparse does with a flag's value."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    CHOICE = "choice"
    LIST = "list"
    JSON = "json"


@dataclass(frozen=True)
class EngineFlag:
    """One long option of ``vllm serve`` in one release."""

    name: str
    kind: FlagKind
    negatable: bool = False
    """BooleanOptionalAction: ``--no-<name>`` exists too."""
    optional_value: bool = False
    """``nargs='?'``: the bare flag means true, a value may follow."""
    choices: tuple[str, ...] = ()
    default: bool | int | float | str | None = None
    deprecated: bool = False
    aliases: tuple[str, ...] = ()
    """Short spellings (``-tp``)."""

    @property
    def takes_value(self) -> bool:
        """Whether the next argument (or ``=value``) belongs to this flag."""
        return self.kind != FlagKind.BOOL

    def refuses(self, value: str) -> bool:
        """Whether argparse would refuse ``value`` (one outside the flag's choices)."""
        return bool(self.choices) and value not in self.choices


@dataclass(frozen=True)
class Metric:
    """One Prometheus metric a release's ``/metrics`` endpoint defines."""

    name: str
    type: str
    hidden: bool = False
    """Only exposed with ``--show-hidden-metrics-for-version``."""
    deprecated: bool = False
    replaced_by: str | None = None

    @property
    def series(self) -> tuple[str, ...]:
        """The names a PromQL query sees: counters gain ``_total``, histograms their parts."""
        if self.type == "counter":
            return (self.name.removesuffix("_total") + "_total",)
        if self.type == "histogram":
            return tuple(f"{self.name}_{part}" for part in ("bucket", "sum", "count"))
        return (self.name,)


@dataclass(frozen=True)
class Release:
    """A published vLLM release with the wheel its facts were read from."""

    version: VllmVersion
    date: str
    wheel: str
    sha256: str


class FlagUse(StrEnum):
    """How one command-line token relates to a release's flags."""

    KNOWN = "known"
    NEGATED = "negated"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ResolvedFlag:
    """A ``--token`` read against one release: the flag it means, or that it means none."""

    use: FlagUse
    flag: EngineFlag | None = None


def _version(text: str) -> VllmVersion:
    version = VllmVersion.parse(text)
    assert version is not None, f"catalog release {text!r}"
    return version


_Span = tuple[VllmVersion, VllmVersion, dict[str, Any]]
_RESOLVED_MEMO_LIMIT = 100_000
"""Distinct (token, release) pairs remembered; hostile input with more is resolved each time."""


def _spans(records: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[_Span]]:
    return {name: [(_version(run["from"]), _version(run["to"]), run) for run in runs] for name, runs in records.items()}


class ReleaseCatalog:
    """Look-ups over the release data; one instance per process (``release_catalog()``)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.releases = tuple(Release(_version(r["version"]), r["date"], r["wheel"], r["sha256"])
                              for r in data["releases"])
        self._by_version = {release.version: release for release in self.releases}
        self._flags = _spans(data["flags"])
        self._metrics = _spans(data["metrics"])
        self._flag_memo: dict[VllmVersion, dict[str, EngineFlag]] = {}
        self._metric_memo: dict[VllmVersion, dict[str, Metric]] = {}
        self._resolved: dict[tuple[str, VllmVersion], ResolvedFlag] = {}

    @property
    def oldest(self) -> Release:
        return self.releases[0]

    @property
    def newest(self) -> Release:
        return self.releases[-1]

    def covers(self, version: VllmVersion) -> bool:
        """Whether ``version`` lies between the oldest and the newest catalogued release."""
        return self.oldest.version <= version <= self.newest.version

    def release(self, version: VllmVersion) -> Release | None:
        return self._by_version.get(version)

    def flags(self, version: VllmVersion) -> Mapping[str, EngineFlag]:
        return self._flags_of(self.nearest(version))

    def metrics(self, version: VllmVersion) -> Mapping[str, Metric]:
        """Metrics by every series name a query can use (``vllm:prompt_tokens_total``)."""
        return self._metrics_of(self.nearest(version))

    def nearest(self, version: VllmVersion) -> VllmVersion:
        """The catalogued release whose facts apply to ``version``: itself, or the newest older one."""
        if version in self._by_version:
            return version
        older = [release.version for release in self.releases if release.version <= version]
        return older[-1] if older else self.oldest.version

    def _flags_of(self, version: VllmVersion) -> Mapping[str, EngineFlag]:
        if version in self._flag_memo:
            return self._flag_memo[version]
        found = self._flag_memo[version] = {}
        for name, runs in self._flags.items():
            for start, end, run in runs:
                if start <= version <= end:
                    found[name] = EngineFlag(name, FlagKind(run["kind"]), run.get("negatable", False),
                                             run.get("optional_value", False), tuple(run.get("choices", ())),
                                             run.get("default"), run.get("deprecated", False),
                                             tuple(run.get("aliases", ())))
        return found

    def _metrics_of(self, version: VllmVersion) -> Mapping[str, Metric]:
        if version in self._metric_memo:
            return self._metric_memo[version]
        found = self._metric_memo[version] = {}
        for name, runs in self._metrics.items():
            for start, end, run in runs:
                if start <= version <= end:
                    metric = Metric(name, run["type"], run.get("hidden", False), run.get("deprecated", False),
                                    run.get("replaced_by"))
                    found.update(dict.fromkeys((name, *metric.series), metric))
        return found

    def resolve(self, token: str, version: VllmVersion) -> ResolvedFlag:
        """Read ``--tensor_parallel_size``, ``--no-enable-prefix-caching``, ``--compilation-config.level``
        or an abbreviation as vLLM's parser would (memoised: fleets repeat the same tokens)."""
        key = (token, version)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolve(token, version)
            if len(self._resolved) < _RESOLVED_MEMO_LIMIT:
                self._resolved[key] = found
        return found

    def _resolve(self, token: str, version: VllmVersion) -> ResolvedFlag:
        flags = self.flags(version)
        if not token.startswith("--"):
            return self._resolve_short(token, flags)
        key = token.split("=", 1)[0]
        dotted = key.split(".", 1)
        name = "--" + dotted[0].removeprefix("--").replace("_", "-")
        if len(dotted) > 1:
            flag = flags.get(name)
            usable = flag is not None and flag.kind == FlagKind.JSON
            return ResolvedFlag(FlagUse.KNOWN if usable else FlagUse.UNKNOWN, flag if usable else None)
        if name in flags:
            return ResolvedFlag(FlagUse.KNOWN, flags[name])
        if name.startswith("--no-"):
            positive = flags.get("--" + name.removeprefix("--no-"))
            if positive is not None and positive.negatable:
                return ResolvedFlag(FlagUse.NEGATED, positive)
        prefixed = [flag for flag_name, flag in flags.items() if flag_name.startswith(name)]
        if len(prefixed) == 1:
            return ResolvedFlag(FlagUse.KNOWN, prefixed[0])
        return ResolvedFlag(FlagUse.UNKNOWN)

    @staticmethod
    def _resolve_short(token: str, flags: Mapping[str, EngineFlag]) -> ResolvedFlag:
        """``-tp 2``, ``-tp=2``; ``-O3`` is vLLM's own spelling of the optimisation level."""
        if token.startswith("-O"):
            level = flags.get("--optimization-level") or flags.get("--compilation-config")
            return ResolvedFlag(FlagUse.KNOWN if level else FlagUse.UNKNOWN, level)
        key = token.split("=", 1)[0]
        match = next((flag for flag in flags.values() if key in flag.aliases), None)
        return ResolvedFlag(FlagUse.KNOWN if match else FlagUse.UNKNOWN, match)

    def first_with(self, name: str) -> VllmVersion | None:
        """The first release that defines ``name``."""
        runs = self._flags.get(name)
        return runs[0][0] if runs else None

    def removed_in(self, name: str, version: VllmVersion) -> VllmVersion | None:
        """The release that dropped ``name`` before or at ``version`` (after its last definition)."""
        ended = [end for _, end, _ in self._flags.get(name, []) if end < version]
        if not ended:
            return None
        later = [release.version for release in self.releases if release.version > ended[-1]]
        return later[0] if later and later[0] <= self.nearest(version) else None

    def suggestion(self, name: str, version: VllmVersion) -> str | None:
        """The closest flag ``version`` does define (``did you mean``)."""
        close = difflib.get_close_matches(name, list(self.flags(version)), n=1, cutoff=0.75)
        return close[0] if close else None

    def metric_history(self, name: str) -> list[tuple[VllmVersion, VllmVersion, Metric]]:
        """Spans of releases defining the metric whose base or series name is ``name``."""
        base = next((metric for metric in self._metrics if name in {metric, *_series_names(metric)}), None)
        if base is None:
            return []
        return [(start, end, Metric(base, run["type"], run.get("hidden", False), run.get("deprecated", False),
                                    run.get("replaced_by")))
                for start, end, run in self._metrics[base]]

    @cached_property
    def metric_names(self) -> frozenset[str]:
        """Every series name any catalogued release defines."""
        return frozenset(series for name, runs in self._metrics.items() for _, _, run in runs
                         for series in (name, *Metric(name, run["type"]).series))


def _series_names(metric: str) -> tuple[str, ...]:
    return (metric.removesuffix("_total") + "_total", *(f"{metric}_{part}" for part in ("bucket", "sum", "count")))


_SIGNAL_METRICS = {
    LoadSignal.QUEUE_DEPTH: ("vllm:num_requests_waiting",),
    LoadSignal.RUNNING_REQUESTS: ("vllm:num_requests_running",),
    LoadSignal.KV_CACHE_USAGE: ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
}


def metric_for(signal: LoadSignal, version: VllmVersion) -> str:
    """The Prometheus metric that carries ``signal`` in ``version`` (the first name it emits)."""
    names = _SIGNAL_METRICS[signal]
    emitted = release_catalog().metrics(version)
    return next((name for name in names if name in emitted and not emitted[name].hidden), names[0])


def accepts(version: VllmVersion, flag: str) -> bool:
    """Whether ``vllm serve`` of ``version`` defines ``flag`` (version-gated rendering)."""
    return flag in release_catalog().flags(version)


def accepted_lora_ranks(version: VllmVersion) -> tuple[int, ...]:
    """``--max-lora-rank`` values ``version`` accepts: the flag's choices where its parser lists
    them, else the values its LoRA config validates (``LORA_RANKS``)."""
    flag = release_catalog().flags(version).get("--max-lora-rank")
    choices = sorted(int(choice) for choice in flag.choices) if flag is not None and flag.choices else None
    return tuple(choices) if choices else LORA_RANKS


def native_multi_node(version: VllmVersion) -> bool:
    """Whether ``version`` spans nodes with its own multiprocessing executor (``--nnodes``,
    ``--node-rank``, ``--headless``; vllm-project/vllm 0.11.1 on) rather than only with Ray."""
    return accepts(version, "--nnodes") and accepts(version, "--headless")


def unknown_release(version: VllmVersion) -> str | None:
    """Why ``version`` is not a release vllm-infra can render for, or None when it is one."""
    catalog = release_catalog()
    if catalog.release(version) is not None:
        return None
    if version > catalog.newest.version:
        return (f"vLLM {version} is newer than this vllm-infra's release catalog (newest "
                f"{catalog.newest.version}, {catalog.newest.date}); upgrade vllm-infra")
    if version < catalog.oldest.version:
        return f"vLLM {version} is older than {catalog.oldest.version}, the oldest release vllm-infra supports"
    same_minor = ", ".join(str(r.version) for r in catalog.releases if r.version[:2] == version[:2]) or "none"
    return (f"vLLM {version} was never released (releases {version.major}.{version.minor}.x: {same_minor}; "
            f"newest {catalog.newest.version})")


def catalog_unknown_flag(name: str, version: VllmVersion) -> str:
    """Why ``name`` is not a flag of ``version``: removed (and when), not yet added, a switch
    without a ``--no-`` form, or a typo (with the closest flag)."""
    catalog = release_catalog()
    canonical = "--" + name.removeprefix("--").split(".", 1)[0].replace("_", "-")
    positive = "--" + canonical.removeprefix("--no-")
    if canonical.startswith("--no-") and positive in catalog.flags(version):
        return f"{name}: {positive} is a plain switch in vLLM {version}; it has no --no- form"
    message = f"{name} is not a flag of vLLM {version}"
    removed = catalog.removed_in(canonical, version)
    added = catalog.first_with(canonical)
    if removed is not None:
        message += f" (removed in {removed})"
    elif added is not None and added > version:
        message += f" (added in {added})"
    suggestion = catalog.suggestion(canonical, version)
    return message + (f"; did you mean {suggestion}?" if suggestion and suggestion != canonical else "")


@cache
def release_catalog() -> ReleaseCatalog:
    """The packaged release catalog, read once."""
    text = resources.files("vllm_infra.catalog").joinpath("data/vllm_releases.json").read_text(encoding="utf-8")
    return ReleaseCatalog(json.loads(text))
