"""What changes when a fleet moves to another vLLM release, per service: what would break (the
spec-time checks of the target release, so the answer is the one ``synth`` would give), the
engine flags that appear or go, metrics the autoscalers would follow, engine defaults that
change, and the capacity estimate before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from vllm_infra.catalog.vllm import LoadSignal, VllmVersion
from vllm_infra.catalog.vllm_releases import metric_for, release_catalog
from vllm_infra.render.pod import engine_args
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.vocabulary.paths import format_path

_REPIN = "upgrade-check: the digest of the pinned release does not apply to the target"


@dataclass(frozen=True)
class ServiceUpgrade:
    """The consequences of moving one service to ``target``."""

    service: str
    pinned: str
    target: str
    breaks: list[str] = field(default_factory=list)
    """What the target refuses (``synth`` would exit 2 with these)."""
    changes: list[str] = field(default_factory=list)
    """What changes without breaking: flags, metrics, defaults, what to re-pin."""
    kv_tokens: tuple[int | None, int | None] = (None, None)
    """KV-cache capacity estimate at the pinned and the target release."""

    @property
    def breaking(self) -> bool:
        return bool(self.breaks)


def upgrade_fleet(fleet: FleetSpec, target: VllmVersion) -> list[ServiceUpgrade]:
    """One result per service; a service already on ``target`` reports no change."""
    data = fleet.model_dump(mode="json", exclude_unset=True)
    return [_upgrade(fleet, data, index, target) for index in range(len(fleet.services))]


def _upgrade(fleet: FleetSpec, data: dict[str, Any], index: int, target: VllmVersion) -> ServiceUpgrade:
    before = _decoding(fleet.services[index])
    name, pinned = fleet.services[index].name, before.vllm_version
    if pinned == target:
        return ServiceUpgrade(name, str(pinned), str(target))
    moved, image_notes = _move_image(data, index, target)
    try:
        after = _decoding(FleetSpec.model_validate(moved).services[index])
    except ValidationError as error:
        breaks = [f"{format_path(tuple(detail['loc'])[2:])}: {detail['msg']}" for detail in error.errors()
                  if tuple(detail["loc"])[:2] == ("services", index)]
        return ServiceUpgrade(name, str(pinned), str(target), breaks)
    changes = [*image_notes, *_flag_changes(before, after), *_metric_changes(before, after),
               *_default_changes(before, pinned, target)]
    return ServiceUpgrade(name, str(pinned), str(target), [], changes, (_kv_tokens(before), _kv_tokens(after)))


def _decoding(spec: VllmServiceSpec) -> ResolvedService:
    """The pods whose KV cache and flags the upgrade reports: the service's, or its decode role's."""
    return spec.units[-1].resolved


def _kv_tokens(service: ResolvedService) -> int | None:
    memory = service.memory_estimate
    return memory.kv_capacity if memory else None


def _move_image(data: dict[str, Any], index: int, target: VllmVersion) -> tuple[dict[str, Any], list[str]]:
    """The fleet data with service ``index`` on ``target``: a release tag is replaced, a custom
    image's declared ``vllm_version`` is; a digest cannot carry over."""
    moved = {**data, "services": [dict(service) for service in data["services"]]}
    service = moved["services"][index]
    image = dict(service.get("image", {}))
    notes = []
    if image.get("vllm_version"):
        image["vllm_version"] = str(target)
        notes.append(f"image {image.get('repository', 'vllm/vllm-openai')}: build it on vLLM {target}")
    else:
        image["tag"] = f"v{target}"
        notes.append(f"image tag v{target}")
    if image.pop("digest", None) is not None:
        image["unpinned_reason"] = _REPIN
        notes.append(f"re-pin image.digest for v{target}")
    service["image"] = image
    return moved, notes


def _flag_changes(before: ResolvedService, after: ResolvedService) -> list[str]:
    old, new = _flag_names(engine_args(before)), _flag_names(engine_args(after))
    target = release_catalog().flags(after.vllm_version)
    deprecated = [flag for flag in sorted(new) if flag in target and target[flag].deprecated]
    return ([f"renders {flag} (new in this release)" for flag in sorted(new - old)]
            + [f"stops rendering {flag}" for flag in sorted(old - new)]
            + [f"{flag} is deprecated in {after.vllm_version}: plan its replacement" for flag in deprecated])


def _flag_names(args: list[str]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}


def _metric_changes(before: ResolvedService, after: ResolvedService) -> list[str]:
    scaling = before.spec.autoscaling
    if scaling is None:
        return []
    signal = LoadSignal(scaling.metric)
    old, new = metric_for(signal, before.vllm_version), metric_for(signal, after.vllm_version)
    return [f"autoscaler metric {old} -> {new} (rendered for you; dashboards and alerts on {old} need the same "
            "change)"] if old != new else []


def _default_changes(service: ResolvedService, pinned: VllmVersion, target: VllmVersion) -> list[str]:
    """Engine defaults that differ, for flags the service leaves at their default."""
    catalog = release_catalog()
    old, new = catalog.flags(pinned), catalog.flags(target)
    explicit = _flag_names(engine_args(service))
    changes = []
    for name in sorted(set(old) & set(new) - explicit):
        if old[name].default != new[name].default:
            changes.append(f"default of {name}: {_shown(old[name].default)} -> {_shown(new[name].default)}")
    return changes


def _shown(default: object) -> str:
    return "decided at start-up" if default is None else repr(default)
