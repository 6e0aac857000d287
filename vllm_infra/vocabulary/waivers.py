"""The waiver annotation: what it accepts, until when, and why.

``vllm-infra.io/waive.<rule-id>: "accepts=<value>; expires=<YYYY-MM-DD>; <reason>"`` waives the
findings of one rule on one object whose subject (the value the finding is about, e.g. an image
reference) or fingerprint is one of the ``accepts`` values, until the expiry date. ``accepts`` may
be given more than once; ``expires`` is optional; the reason is required. A waiver that accepts
nothing covers nothing: keyed by rule id alone, it would let any later change that the same rule
catches ride through (an image moved to ``:latest`` under a waiver written for a missing digest).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from vllm_infra.vocabulary.kubernetes import WAIVER_ANNOTATION_PREFIX

_FIELD = re.compile(r"^\s*(accepts|expires)\s*=\s*([^;]*?)\s*$")


@dataclass(frozen=True)
class Waiver:
    """One waiver as written on an object."""

    rule: str
    reason: str
    accepts: tuple[str, ...] = ()
    expires: datetime.date | None = None
    problem: str | None = None
    """Why the waiver cannot apply as written (no reason, accepts nothing, an unreadable date)."""

    def covers(self, subject: str | None, fingerprint: str) -> bool:
        """Whether the waiver names this finding."""
        return self.problem is None and (fingerprint in self.accepts or (subject is not None
                                                                       and subject in self.accepts))

    def expired(self, today: datetime.date) -> bool:
        """Whether the expiry date has passed (a waiver expiring today still applies)."""
        return self.expires is not None and self.expires < today

    def annotation(self) -> tuple[str, str]:
        """The annotation (key, value) that states this waiver."""
        return waiver_annotation(self.rule, self.accepts, self.reason, self.expires)


def waiver_annotation(rule: str, accepts: tuple[str, ...], reason: str,
                      expires: datetime.date | None = None) -> tuple[str, str]:
    """``(vllm-infra.io/waive.<rule>, "accepts=...; expires=...; reason")``."""
    fields = [f"accepts={value}" for value in accepts] + ([f"expires={expires.isoformat()}"] if expires else [])
    return f"{WAIVER_ANNOTATION_PREFIX}{rule}", "; ".join([*fields, reason])


def trusted_code_subject(model: str | None, revision: object) -> str:
    """What a VI-SEC-013 waiver accepts: the repository whose code is trusted, at its commit."""
    return f"{model or '(unknown model)'}@{revision if isinstance(revision, str) else '(unpinned)'}"


def parse_waiver(rule: str, text: str) -> Waiver:
    """A waiver annotation's value, read; a value that cannot apply says why in ``problem``."""
    parts = str(text).split(";")
    accepts: list[str] = []
    expires: datetime.date | None = None
    problem: str | None = None
    consumed = 0
    for part in parts:
        match = _FIELD.match(part)
        if match is None:
            break
        consumed += 1
        key, value = match.groups()
        if key == "accepts" and value:
            accepts.append(value)
        elif key == "expires":
            try:
                expires = datetime.date.fromisoformat(value)
            except ValueError:
                problem = f"its expiry date {value!r} is not a date (YYYY-MM-DD)"
    reason = ";".join(parts[consumed:]).strip()
    if not reason:
        problem = "it gives no reason"
    elif not accepts and problem is None:
        problem = ("it does not say what it accepts (write accepts=<the finding's subject or fingerprint>; "
                   "reason)")
    return Waiver(rule, reason, tuple(accepts), expires, problem)


def waivers_in(annotations: object) -> dict[str, Waiver]:
    """The waivers among an object's annotations, by rule id."""
    if not isinstance(annotations, dict):
        return {}
    return {str(key)[len(WAIVER_ANNOTATION_PREFIX):]: parse_waiver(str(key)[len(WAIVER_ANNOTATION_PREFIX):],
                                                                    str(value))
            for key, value in annotations.items()
            if isinstance(key, str) and key.startswith(WAIVER_ANNOTATION_PREFIX) and value is not None}
