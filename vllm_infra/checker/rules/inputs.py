"""How files read: what the loader finds before any rule sees an object."""

from __future__ import annotations

from vllm_infra.checker.rules.base import input_rule
from vllm_infra.vocabulary.reporting import Severity

UNREADABLE = input_rule(
    "VI-YAML-001", "readable_input", Severity.CRITICAL, "Every input file reads as Kubernetes objects",
    "Fix the YAML error or render the template; a file Kubernetes cannot read is not applied, and nothing in it "
    "was checked.",
    rationale="A file Kubernetes cannot read is not applied, and nothing in it was checked.",
    example="image: {{ .Values.image }}   # an unrendered Helm template")
"""Reported on the file; the other files are still checked."""

DUPLICATE_KEY = input_rule(
    "VI-YAML-002", "no_duplicate_keys", Severity.MEDIUM, "No mapping key is given twice",
    "Remove the duplicate key: Kubernetes keeps the last value, while people and some tools read the first.",
    rationale=("Kubernetes keeps the last value of a key given twice, while people and some tools read the"
               " first."),
    example="spec:\n  type: ClusterIP\n  type: NodePort")
"""High when the two values differ (what a reviewer sees is not what runs)."""
