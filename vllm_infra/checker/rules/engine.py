"""Run the catalog over a set of objects and apply waivers.

A waiver is the annotation ``vllm-infra.io/waive.<rule-id>: "accepts=<value>; expires=<date>;
<reason>"`` on the object a finding belongs to (``vocabulary.waivers``). It covers the findings of
that rule whose subject or fingerprint it accepts, until it expires, where the profile lets a
finding of that severity be waived. Waived findings are reported as waived, never dropped; a
finding a waiver does not cover says why; a waiver that covers nothing is itself a finding.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import Manifest, dig, name_of, namespace_of
from vllm_infra.checker.reading.views import shared_views
from vllm_infra.checker.rules.base import BundleRule, ResourceRule, Rule, RuleContext, Violation
from vllm_infra.checker.rules.waivers import STALE_WAIVER
from vllm_infra.vocabulary.kubernetes import WAIVER_ANNOTATION_PREFIX
from vllm_infra.vocabulary.paths import FieldPath, format_path
from vllm_infra.vocabulary.progress import SILENT, Advance, Progress
from vllm_infra.vocabulary.reporting import Severity
from vllm_infra.vocabulary.waivers import Waiver, waivers_in
from vllm_infra.workers import Forked, balanced_pieces, pieces, worker_count


@dataclass(frozen=True)
class RuleFinding:
    """A violation attributed to an object, with its effective severity and waiver state."""

    rule: Rule
    obj: Manifest
    path: FieldPath
    message: str
    severity: Severity
    waiver: str | None = None
    """The waiver's reason when the finding is waived."""
    subject: str | None = None
    """What the finding is about, in the words a waiver accepts."""
    fingerprint: str = ""
    """Stable across line moves and file renames: rule, object identity, path and subject (or message)."""


def fingerprint(rule_id: str, obj: Manifest, path: FieldPath, subject: str | None, message: str) -> str:
    """16 hex digits naming one finding: what baselines record and waivers may accept."""
    identity = "|".join((rule_id, str(obj.get("kind", "")), namespace_of(obj), name_of(obj), format_path(path),
                         subject if subject is not None else message))
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def evaluate(objects: Sequence[Manifest], rules: Iterable[Rule], context: RuleContext | None = None,
             progress: Progress = SILENT, parallel: bool = False) -> list[RuleFinding]:
    """Findings of ``rules`` (resource rules per object, bundle rules once), deduplicated;
    ``progress`` counts objects and bundle rules. With ``parallel``, large sets have their resource
    rules run in forked children (same findings, same order)."""
    context = context or RuleContext()
    bundle = Bundle(list(objects))
    with shared_views():
        return _findings(bundle, context, list(rules), progress, parallel)


PROGRESS_OBJECTS = 500
"""Objects per progress report (one call per object would cost more than some rules)."""
PARALLEL_MIN_OBJECTS = 2_000
"""Below this, forking costs more than it saves."""
PIECE_MIN_OBJECTS = 500
"""Fewer objects per child would cost more in forking than they save."""

_Produced = list[tuple[Rule, Manifest, Violation]]


def _resource_violations(objects: Sequence[Manifest], rules: list[ResourceRule], context: RuleContext,
                         ) -> Iterator[tuple[int, ResourceRule, Violation]]:
    """Resource rules object by object (each object is read by every rule while it is still in the
    CPU cache, which keeps large trees linear): (position, rule, violation)."""
    by_kind: dict[str, list[ResourceRule]] = {}
    for position, obj in enumerate(objects):
        kind = str(obj.get("kind"))
        if kind not in by_kind:
            by_kind[kind] = [rule for rule in rules if rule.applies_to(obj)]
        applicable = by_kind[kind]
        try:  # the common case: one guard per object, not per rule
            found = [(rule, violation) for rule in applicable for violation in rule.check(obj, context)]
        except Exception:  # some rule cannot read this object: run each behind its own guard
            found = [(rule, violation) for rule in applicable
                     for violation in _guarded(rule.check, obj, context, None)]
        for rule, violation in found:
            yield position, rule, violation


def _bundle_violations(bundle: Bundle, rule: BundleRule, context: RuleContext) -> _Produced:
    anchor = bundle.objects[0] if bundle.objects else None
    return [(rule, violation.obj, violation) for violation in _guarded(rule.check, bundle, context, anchor)
            if violation.obj is not None]


def _guarded(check: Callable[[Any, RuleContext], Iterable[Violation]], subject: Any, context: RuleContext,
             anchor: Manifest | None) -> list[Violation]:
    """A rule's violations, or one finding saying it could not evaluate: input of the wrong shape
    (or a bug) must never end the run with a traceback, nor pass silently."""
    try:
        return list(check(subject, context))
    except Exception as error:  # any failure of one rule on one input is reported, not raised
        return [Violation((), f"could not evaluate this {'object' if anchor is None else 'set of objects'} "
                              f"({type(error).__name__}): it is malformed where the rule reads it (the schema "
                              "findings name the field), or vllm-infra has a bug", obj=anchor, waivable=False)]


def _serial(bundle: Bundle, context: RuleContext, resource: list[ResourceRule], bundle_rules: list[BundleRule],
            advance: Advance) -> _Produced:
    objects = bundle.objects
    produced: _Produced = []
    for part in pieces(len(objects), PROGRESS_OBJECTS):
        produced += [(rule, objects[part.start + position], violation) for position, rule, violation
                     in _resource_violations(objects[part.start:part.stop], resource, context)]
        advance(len(part))
    for rule in bundle_rules:
        produced += _bundle_violations(bundle, rule, context)
        advance(1)
    return produced


def _forked(bundle: Bundle, context: RuleContext, resource: list[ResourceRule], bundle_rules: list[BundleRule],
            advance: Advance, workers: int) -> _Produced:
    """Resource rules in forked children; this process only collects while they run. Whatever it
    wrote meanwhile (touching an object updates its reference count) would be copied into every
    living child: running the bundle rules alongside doubled a 50,000-object check's memory."""
    objects = bundle.objects
    parts = balanced_pieces(len(objects), workers, PIECE_MIN_OBJECTS)
    by_id = {rule.id: rule for rule in resource}

    def piece(index: int) -> list[tuple[int, str, Violation]]:
        part = parts[index]
        return [(part.start + position, rule.id, violation)
                for position, rule, violation in _resource_violations(objects[part.start:part.stop], resource,
                                                                      context)]

    from_bundle: _Produced = []
    for rule in bundle_rules:  # before the children exist (see above)
        from_bundle += _bundle_violations(bundle, rule, context)
        advance(1)
    produced: _Produced = []
    for part, found in zip(parts, Forked(piece, len(parts), workers), strict=True):
        produced += [(by_id[rule_id], objects[position], violation) for position, rule_id, violation in found]
        advance(len(part))
    return produced + from_bundle


def _findings(bundle: Bundle, context: RuleContext, rules: list[Rule], progress: Progress,
              parallel: bool) -> list[RuleFinding]:
    """Resource rules over every object, then bundle rules once each (those the profile runs)."""
    rules = [rule for rule in rules if context.policy.applies(rule.id)]
    resource = [rule for rule in rules if isinstance(rule, ResourceRule)]
    bundle_rules = [rule for rule in rules if isinstance(rule, BundleRule)]
    advance = progress.phase("checking rules", len(bundle.objects) + len(bundle_rules))
    workers = worker_count() if parallel and len(bundle.objects) >= PARALLEL_MIN_OBJECTS else 1
    produced = _forked(bundle, context, resource, bundle_rules, advance, workers) if workers > 1 else \
        _serial(bundle, context, resource, bundle_rules, advance)
    judge = WaiverJudge(context)
    findings = judge.findings(produced)
    if STALE_WAIVER in rules:
        findings += judge.stale([rule.id for rule in rules], bundle.objects)
    return findings


def applicable(rules: Iterable[Rule], context: RuleContext) -> list[Rule]:
    """The rules the context's profile runs."""
    return [rule for rule in rules if context.policy.applies(rule.id)]


def resource_findings(objects: Sequence[Manifest], rules: Sequence[Rule], context: RuleContext,
                      judge: WaiverJudge) -> list[RuleFinding]:
    """The resource rules among ``rules`` over ``objects``, judged (for a stream, a piece at a time)."""
    resource = [rule for rule in applicable(rules, context) if isinstance(rule, ResourceRule)]
    return judge.findings([(rule, objects[position], violation) for position, rule, violation
                           in _resource_violations(objects, resource, context)])


def bundle_findings(objects: Sequence[Manifest], rules: Sequence[Rule], context: RuleContext, judge: WaiverJudge,
                    advance: Advance) -> list[RuleFinding]:
    """The bundle rules among ``rules`` over all ``objects`` together, judged; ``advance`` per rule."""
    bundle = Bundle(list(objects))
    produced: _Produced = []
    with shared_views():
        for rule in applicable(rules, context):
            if isinstance(rule, BundleRule):
                produced += _bundle_violations(bundle, rule, context)
                advance(1)
    return judge.findings(produced)


class WaiverJudge:
    """Decides, finding by finding, whether the object's waiver covers it, and remembers which
    waivers covered something."""

    def __init__(self, context: RuleContext) -> None:
        self.context = context
        self.policy = context.policy
        self.today = context.today or datetime.date.today()
        self.used: dict[int, set[str]] = {}
        self._waivers: dict[int, dict[str, Waiver]] = {}

    def waivers(self, obj: Manifest) -> dict[str, Waiver]:
        """The object's waivers by rule id (read once per object)."""
        if id(obj) not in self._waivers:
            self._waivers[id(obj)] = waivers_in(dig(obj, "metadata", "annotations"))
        return self._waivers[id(obj)]

    def findings(self, produced: Iterable[tuple[Rule, Manifest, Violation]]) -> list[RuleFinding]:
        """Each violation judged once (a rule that reports the same thing twice is reported once)."""
        found: list[RuleFinding] = []
        seen: set[tuple[str, int, FieldPath, str]] = set()
        for rule, obj, violation in produced:
            key = (rule.id, id(obj), violation.path, violation.message)
            if key not in seen:
                seen.add(key)
                found.append(self.finding(rule, obj, violation))
        return found

    def covered(self, obj: Manifest) -> frozenset[str]:
        """Rule ids whose waiver on ``obj`` covered a finding so far."""
        return frozenset(self.used.get(id(obj), ()))

    def mark_covered(self, obj: Manifest, rule_ids: Iterable[str]) -> None:
        """Record waivers of ``obj`` that covered findings judged elsewhere (another process)."""
        self.used.setdefault(id(obj), set()).update(rule_ids)

    def finding(self, rule: Rule, obj: Manifest, violation: Violation) -> RuleFinding:
        native = violation.severity or rule.severity  # what a waiver is judged by: no setting widens it
        severity = self.context.severity_of(rule.id, native)
        mark = fingerprint(rule.id, obj, violation.path, violation.subject, violation.message)
        waiver = self.waivers(obj).get(rule.id)
        message, reason = violation.message, None
        if waiver is not None:
            why_not = self._why_not(waiver, violation, native, mark)
            if why_not is None:
                reason = waiver.reason
                self.used.setdefault(id(obj), set()).add(rule.id)
            else:
                message = f"{message} (waiver not applied: {why_not})"
        return RuleFinding(rule, obj, violation.path, message, severity, reason, violation.subject, mark)

    def _why_not(self, waiver: Waiver, violation: Violation, severity: Severity, mark: str) -> str | None:
        if not violation.waivable:
            return "this failure cannot be waived"
        if severity not in self.policy.waivable:
            return f"{severity} findings cannot be waived under the {self.context.profile} profile"
        if waiver.problem is not None:
            return waiver.problem
        if not waiver.covers(violation.subject, mark):
            named = f"{violation.subject} (fingerprint {mark})" if violation.subject else f"fingerprint {mark}"
            return f"it accepts {', '.join(waiver.accepts)}, not {named}"
        if waiver.expired(self.today):
            return f"it expired on {waiver.expires}"
        return None

    def stale(self, rule_ids: Iterable[str], objects: Iterable[Manifest]) -> list[RuleFinding]:
        """A finding for each waiver of an evaluated rule that covered nothing."""
        evaluated = set(rule_ids)
        found = []
        for obj in objects:
            for rule_id, waiver in sorted(self.waivers(obj).items()):
                if rule_id not in evaluated or rule_id in self.used.get(id(obj), ()):
                    continue
                problem = f" ({waiver.problem})" if waiver.problem else ""
                what = f"accepts {', '.join(waiver.accepts)}" if waiver.accepts else "accepts nothing"
                message = (f"the waiver of {rule_id} covers no current finding{problem}: it {what}; what it was "
                           "written for changed or is gone")
                path: FieldPath = ("metadata", "annotations", f"{WAIVER_ANNOTATION_PREFIX}{rule_id}")
                found.append(RuleFinding(STALE_WAIVER, obj, path, message, STALE_WAIVER.severity, None, None,
                                         fingerprint(STALE_WAIVER.id, obj, path, rule_id, message)))
        return found
