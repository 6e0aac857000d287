"""VI-SCH-001 and VI-SCH-006: strict schema validation, run as rules so the CLI and CrossGuard share
them, and the kinds no schema covers."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.checker.schemas.validator import SchemaValidator, UnknownKindError, is_skipped
from vllm_infra.vocabulary.reporting import Severity


@cache
def validator_for(version: str) -> SchemaValidator:
    """One compiled validator per Kubernetes version per process."""
    return SchemaValidator(version)


SCHEMA_RULE = "VI-SCH-001"


@resource_rule(
    SCHEMA_RULE, Severity.CRITICAL, "Every object validates strictly against the pinned schemas",
    "Fix the field named in the message (unknown fields are errors); add a schema or --skip the kind if it is "
    "not a Kubernetes built-in or a vendored CRD.")
def strict_schema(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if is_skipped(obj, ctx.skip_kinds):
        return
    validator = validator_for(ctx.kubernetes_version)
    manifest = dict(obj)
    try:
        if validator.is_valid(manifest):
            return
        violations = validator.validate(manifest)
    except UnknownKindError:
        return  # VI-SCH-006 reports it
    for violation in violations:
        yield Violation(violation.location, violation.message, waivable=False)


@resource_rule(
    "VI-SCH-006", Severity.MEDIUM, "Every kind has a schema to validate against",
    "Pass the operator's CRDs with --schema-dir, skip the kind with --skip, or accept unvalidated objects with "
    "--ignore-missing-schemas.")
def known_schema(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.ignore_missing_schemas or is_skipped(obj, ctx.skip_kinds):
        return
    try:
        validator_for(ctx.kubernetes_version).validator(str(obj.get("apiVersion")), str(obj.get("kind")))
    except UnknownKindError as exc:
        yield Violation(("kind",), f"{exc}: the object was not validated")
