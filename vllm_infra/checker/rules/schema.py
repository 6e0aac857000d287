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
def validator_for(version: str, schema_dirs: tuple[str, ...] = ()) -> SchemaValidator:
    """One compiled validator per Kubernetes version (and user schema directories) per process."""
    return SchemaValidator(version, schema_dirs)


SCHEMA_RULE = "VI-SCH-001"
UNKNOWN_FIELD = "Additional properties are not allowed"
"""How the JSON Schema validator words a field the schema does not define."""


@resource_rule(
    SCHEMA_RULE, Severity.CRITICAL, "Every object validates strictly against the pinned schemas",
    "Fix the field named in the message (unknown fields are errors); add a schema or --skip the kind if it is "
    "not a Kubernetes built-in or a vendored CRD.",
    rationale=("The API server rejects objects with unknown or mistyped fields (or, with lenient tools, "
               "drops them silently)."),
    example=("spec:\n"
             "  template:\n"
             "    spec:\n"
             "      containers: [{name: vllm, imag: vllm/vllm-openai:v0.11.0}]   # imag"))
def strict_schema(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if is_skipped(obj, ctx.skip_kinds):
        return
    validator = validator_for(ctx.kubernetes_version, ctx.schema_dirs)
    manifest = dict(obj)
    try:
        if validator.is_valid(manifest):
            return
        violations = validator.validate(manifest)
    except UnknownKindError:
        return  # VI-SCH-006 reports it
    source = validator.vendored_source(str(obj.get("apiVersion")), str(obj.get("kind")))
    for violation in violations:
        message = violation.message
        if source and message.startswith(UNKNOWN_FIELD):
            message += (f" (the {obj.get('kind')} schema vendored from {source} lacks it: a typo, or a field of a "
                        "later release; give the installed CRD with --schema-dir)")
        yield Violation(violation.location, message, waivable=False)


@resource_rule(
    "VI-SCH-006", Severity.MEDIUM, "Every kind has a schema to validate against",
    "Pass the operator's CRDs with --schema-dir, skip the kind with --skip, or accept unvalidated objects with "
    "--ignore-missing-schemas.",
    rationale=("An object of a kind without a schema is not validated at all: its typos reach the cluster."),
    example=("apiVersion: example.com/v1\n"
             "kind: Widget   # no CRD schema vendored or given with --schema-dir"))
def known_schema(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.ignore_missing_schemas or is_skipped(obj, ctx.skip_kinds):
        return
    try:
        validator = validator_for(ctx.kubernetes_version, ctx.schema_dirs)
        validator.validator(str(obj.get("apiVersion")), str(obj.get("kind")))
    except UnknownKindError as exc:
        served = validator.served_versions(str(obj.get("apiVersion")), str(obj.get("kind")))
        if served:  # Kubernetes' own kind at a version this release does not serve
            yield Violation(("apiVersion",), f"Kubernetes {ctx.kubernetes_version} defines {obj.get('kind')} in "
                                             f"{', '.join(served)}, not {obj.get('apiVersion')}: the API server "
                                             "refuses it", severity=Severity.HIGH)
            return
        yield Violation(("kind",), f"{exc}: the object was not validated")
