"""Waivers are reviewed facts: each one covers a finding that exists today."""

from __future__ import annotations

from vllm_infra.checker.rules.base import WaiverRule
from vllm_infra.vocabulary.reporting import Severity

STALE_WAIVER = WaiverRule(
    "VI-WVR-001", Severity.MEDIUM, "Every waiver covers a current finding of its rule",
    "Remove the waiver, or write what it accepts: vllm-infra.io/waive.<rule>: \"accepts=<the finding's subject or "
    "fingerprint>; expires=<YYYY-MM-DD>; <reason>\" (`vllm-infra check -o json` lists both for every finding).",
    False, "waivers_cover_findings")
"""A waiver that covers nothing today stopped applying: what it was written for changed or is gone."""
