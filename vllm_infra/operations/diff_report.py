"""A diff as text for terminals, as Markdown for a pull-request comment or a job summary
(collapsible per stack, bounded in size, every value escaped), and as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from vllm_infra.operations.diff import ABSENT, FieldChange, ObjectChange, StackDiff

MAX_VALUE_CHARS = 100
MAX_FIELDS_PER_OBJECT = 25
MARKDOWN_LIMIT = 60_000
"""GitHub refuses comments above 65,536 characters; the rest is left for the header and notes."""
MARKER = "<!-- vllm-infra diff -->"
"""First line of the comment, so a workflow finds and updates its own comment."""
SYMBOLS = {"added": "+", "removed": "-", "changed": "~"}


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."


def _around_difference(before: str, after: str) -> tuple[str, str]:
    """Two long texts cut to where they start to differ (a shared beginning shown as '...')."""
    shared = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
                  min(len(before), len(after)))
    start = max(0, shared - 20)
    return (("..." if start else "") + before[start:], ("..." if start else "") + after[start:])


def _field(change: FieldChange) -> str:
    before, after = change.before, change.after
    if before == ABSENT:
        return f"{change.path}: added {_value(after)}"
    if after == ABSENT:
        return f"{change.path}: removed (was {_value(before)})"
    if isinstance(before, str) and isinstance(after, str) and max(len(before), len(after)) > MAX_VALUE_CHARS:
        before, after = _around_difference(before, after)
    return f"{change.path}: {_value(before)} -> {_value(after)}"


def summary(diff: StackDiff) -> str:
    """``2 changed, 1 added, 0 removed (1 replacement)`` or ``no changes``."""
    if diff.problem:
        return f"invalid: {diff.problem}"
    counts = {status: sum(1 for c in diff.objects if c.status == status) for status in ("changed", "added", "removed")}
    text = ", ".join(f"{count} {status}" for status, count in counts.items())
    replacements = len(diff.replacements)
    if replacements:
        text += f" ({replacements} replacement{'s' if replacements != 1 else ''})"
    return text if diff.objects else "no object changes"


def _gpu_text(diff: StackDiff) -> list[str]:
    return [f"{gpu} {low}-{high} -> {new_low}-{new_high}" for gpu, ((low, high), (new_low, new_high))
            in diff.gpus.items()]


def _cost_text(diff: StackDiff) -> str | None:
    if diff.cost is None:
        return None
    (low, high), (new_low, new_high) = diff.cost
    return f"${low:,.0f}-{high:,.0f} -> ${new_low:,.0f}-{new_high:,.0f} per month ({new_high - high:+,.0f} at maximum)"


def _consequences(diff: StackDiff) -> list[tuple[str, list[str]]]:
    cost = _cost_text(diff)
    return [(title, lines) for title, lines in (
        ("GPUs (min-max)", _gpu_text(diff)), ("cost", [cost] if cost else []), ("services", diff.services),
        ("findings added", diff.findings_added), ("findings resolved", diff.findings_resolved),
        ("findings changed", diff.findings_changed), ("waivers", diff.waivers),
        ("scheduling", diff.scheduling)) if lines]


def _object_lines(change: ObjectChange) -> list[str]:
    lines = [_field(field) for field in change.fields[:MAX_FIELDS_PER_OBJECT]]
    if len(change.fields) > MAX_FIELDS_PER_OBJECT:
        lines.append(f"... and {len(change.fields) - MAX_FIELDS_PER_OBJECT} more field(s)")
    return lines


def render_text(diffs: Sequence[StackDiff]) -> str:
    """One block per stack."""
    out = []
    for diff in diffs:
        out.append(f"{diff.stack}: {summary(diff)}")
        for change in diff.objects:
            out.append(f"  {SYMBOLS[change.status]} {change.title}")
            out += [f"      {line}" for line in _object_lines(change)]
            if change.replaced_by:
                out.append(f"      REPLACED: {', '.join(change.replaced_by)} cannot change in place; the object is "
                           "deleted and recreated")
        for title, lines in _consequences(diff):
            out.append(f"  {title}:")
            out += [f"    {line}" for line in lines]
    return "\n".join(out) + "\n"


def _text(text: str) -> str:
    """Plain Markdown text (a table cell, a summary): no HTML, no table breaks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|") \
        .replace("\n", " ")


def _code(text: str) -> str:
    """A Markdown code span: literal inside, so only a backtick (which would end it) is replaced."""
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _stack_section(diff: StackDiff) -> str:
    lines = [f"<details><summary><b>{_text(diff.stack)}</b>: {_text(summary(diff))}</summary>", ""]
    for change in diff.objects:
        lines.append(f"- {SYMBOLS[change.status]} {_code(change.title)} {change.status}")
        lines += [f"  - {_code(line)}" for line in _object_lines(change)]
        if change.replaced_by:
            lines.append(f"  - **replaced**: {_code(', '.join(change.replaced_by))} cannot change in place")
    for title, entries in _consequences(diff):
        lines += ["", f"**{title}**", *[f"- {_code(entry)}" for entry in entries]]
    return "\n".join([*lines, "", "</details>", ""])


def render_markdown(diffs: Sequence[StackDiff], limit: int = MARKDOWN_LIMIT) -> str:
    """A PR comment: a table of stacks, then a collapsible section per stack; sections that would
    pass ``limit`` characters are left out with a note."""
    head = [MARKER, "### vllm-infra diff", "",
            "| stack | objects | GPUs (min-max) | cost per month | findings |", "|---|---|---|---|---|"]
    for diff in diffs:
        findings = f"+{len(diff.findings_added)} / -{len(diff.findings_resolved)}" + (
            f" / ~{len(diff.findings_changed)}" if diff.findings_changed else "")
        head.append(f"| {_text(diff.stack)} | {_text(summary(diff))} | "
                    f"{_text('; '.join(_gpu_text(diff)) or 'unchanged')} | {_text(_cost_text(diff) or 'unchanged')} "
                    f"| {findings} |")
    text = "\n".join([*head, ""]) + "\n"
    left_out = []
    for diff in diffs:
        if diff.empty:
            continue
        section = _stack_section(diff)
        if len(text) + len(section) > limit:
            left_out.append(diff.stack)
            continue
        text += section
    if left_out:
        text += (f"\n_Details of {', '.join(_text(s) for s in left_out)} left out to keep this comment under "
                 f"{limit:,} characters: run `vllm-infra diff` locally._\n")
    return text


def as_json(diffs: Sequence[StackDiff]) -> dict[str, Any]:
    """Machine-readable diff."""
    return {"stacks": [{**asdict(diff), "summary": summary(diff)} for diff in diffs]}
