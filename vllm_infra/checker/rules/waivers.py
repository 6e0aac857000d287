"""Waivers are reviewed facts: each one covers a finding that exists today."""

from __future__ import annotations

from vllm_infra.checker.rules.base import WaiverRule
from vllm_infra.vocabulary.reporting import Severity

STALE_WAIVER = WaiverRule(
    "VI-WVR-001", Severity.MEDIUM, "Every waiver covers a current finding of its rule",
    "Remove the waiver, or write what it accepts: vllm-infra.io/waive.<rule>: \"accepts=<the finding's subject or "
    "fingerprint>; expires=<YYYY-MM-DD>; <reason>\" (`vllm-infra check -o json` lists both for every finding).",
    False, "waivers_cover_findings",
    rationale=("A waiver is a reviewed fact about one finding; once what it accepted is gone it covers "
               "nothing, and left in place it hides the next change of the same rule from review."),
    example=("metadata:\n"
             "  annotations:\n"
             "    vllm-infra.io/waive.VI-IMG-001: \"accepts=vllm/vllm-openai:v0.32.0; no digest yet\"\n"
             "# the image is pinned by digest now: the waiver covers nothing"))
"""A waiver that covers nothing today stopped applying: what it was written for changed or is gone."""
