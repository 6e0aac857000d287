"""Promotion: the image and model pins one stack runs, copied into another stack file with its
comments and layout kept (ruamel.yaml round trip), validated before anything is written."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from vllm_infra.outputs.stack_config import FLEET_KEY, StackConfigError, fleet_from_config
from vllm_infra.spec.fleet import FleetSpec

IMAGE_PINS = ("tag", "digest", "unpinned_reason")
"""What moves with an image: the release, its digest, or why there is none yet."""


class PromotionError(ValueError):
    """Nothing to promote, or the result would not be a valid stack."""


@dataclass(frozen=True)
class Promotion:
    """The target stack file's new text, the fleet it validates to, and what changed."""

    text: str
    fleet: FleetSpec
    changes: list[str]
    left_out: list[str] = field(default_factory=list)
    """Services one stack runs and the other does not: nothing is promoted for them, and the
    sentences say so (a service is never skipped without a word)."""


def _yaml() -> YAML:
    """The round-trip reader and writer; its indentation is the stack files' own (2, dash at 2)."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _pins(fleet: FleetSpec, name: str) -> tuple[dict[str, Any], str | None]:
    service = next(s for s in fleet.services if s.name == name)
    image = {key: getattr(service.image, key) for key in IMAGE_PINS}
    return image, service.model.revision


def _set(node: CommentedMap, key: str, value: Any, inherited: Any = None) -> bool:
    """Set one key, or drop it for ``None`` (an explicit null when ``inherited`` defaults hold the
    key, so the default does not show through); whether anything changed."""
    if value is None and not (isinstance(inherited, CommentedMap) and inherited.get(key) is not None):
        return node.pop(key, None) is not None
    if key in node and node.get(key) == value:
        return False
    node[key] = value
    return True


def _image_change(key: str) -> str:
    return f"image.{key}"


def _left_out(source_names: Sequence[str], target_names: Sequence[str]) -> list[str]:
    """What a promotion of every shared service leaves out, in words."""
    return [*(f"{name}: not in the target stack, not promoted (add it there by hand)" for name in source_names
              if name not in target_names),
            *(f"{name}: not in the source stack, left as it is" for name in target_names if name not in source_names)]


def promote(source: FleetSpec, target_text: str, target_source: str, services: Sequence[str] = ()) -> Promotion:
    """``target_text`` with every named service (default: every service both stacks run) pinned
    to the image and model revision it has in ``source``; raises PromotionError. When every
    service moves to one image and the target sets its image in ``defaults``, the defaults change
    (and services stop overriding them); otherwise each service gets its own pins."""
    yaml = _yaml()
    document = yaml.load(target_text)
    fleet_node = document["config"][FLEET_KEY]
    target_names = [str(node["name"]) for node in fleet_node["services"]]
    source_names = {service.name for service in source.services}
    chosen = list(services) or [name for name in target_names if name in source_names]
    unknown = [name for name in chosen if name not in source_names or name not in target_names]
    if unknown:
        raise PromotionError(f"not a service of both stacks: {', '.join(unknown)}")
    if not chosen:
        raise PromotionError("the stacks share no service")
    left_out = [] if services else _left_out(sorted(source_names), target_names)
    pins = {name: _pins(source, name) for name in chosen}
    defaults = fleet_node.get("defaults")
    default_image = defaults.get("image") if isinstance(defaults, CommentedMap) else None
    images = {tuple(image.items()) for image, _revision in pins.values()}
    changes = []
    shared = isinstance(default_image, CommentedMap) and set(chosen) == set(target_names) and len(images) == 1
    if shared and isinstance(default_image, CommentedMap):
        image = next(iter(pins.values()))[0]
        changed = [_image_change(key) for key in IMAGE_PINS if _set(default_image, key, image[key])]
        if changed:
            changes.append(f"defaults: {', '.join(changed)}")
    for node in fleet_node["services"]:
        name = str(node["name"])
        if name not in chosen:
            continue
        image, revision = pins[name]
        image_node = node.get("image")
        if not isinstance(image_node, CommentedMap):
            image_node = CommentedMap()
        wanted = dict.fromkeys(IMAGE_PINS) if shared else image
        changed = [_image_change(key) for key in IMAGE_PINS
                   if _set(image_node, key, wanted[key], None if shared else default_image)]
        if "image" in node and not image_node:
            del node["image"]
        elif image_node and "image" not in node:
            node.insert(1, "image", image_node)
        if _set(node["model"], "revision", revision):
            changed.append("model.revision")
        if changed:
            changes.append(f"{name}: {', '.join(changed)}")
    out = io.StringIO()
    yaml.dump(document, out)
    text = out.getvalue()
    return Promotion(text, _validated(text, target_source, pins), changes, left_out)


def _validated(text: str, target_source: str, pins: dict[str, tuple[dict[str, Any], str | None]]) -> FleetSpec:
    """The promoted stack, refused (PromotionError) when it does not validate or pins differ."""
    try:
        promoted = fleet_from_config(YAML(typ="safe").load(text)["config"][FLEET_KEY], target_source)
    except StackConfigError as error:
        raise PromotionError("the promoted stack would not be valid: " + "; ".join(map(str, error.problems))) \
            from None
    wrong = [name for name in pins if _pins(promoted, name) != pins[name]]
    if wrong:
        raise PromotionError(f"could not pin {', '.join(wrong)} without changing other services")
    return promoted
