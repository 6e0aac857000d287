"""``vllm-infra check``, ``validate`` and ``rules``: schema validation and the policy catalog over
rendered YAML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vllm_infra.cli.config import CONFIG_FILE
from vllm_infra.cli.output import fail, print_table, say, stderr, stdout
from vllm_infra.cli.progress import Quiet, progress
from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.vocabulary.profiles import PROFILES
from vllm_infra.vocabulary.reporting import DataFormat, Profile, ReportFormat, Severity

if TYPE_CHECKING:
    from vllm_infra.catalog.architectures import ModelArchitecture
    from vllm_infra.catalog.gpus import GpuType
    from vllm_infra.checker.rules import Rule
    from vllm_infra.checker.simulation.cluster import Cluster

PATHS_HELP = "Files or directories of rendered YAML (recursively), or - for stdin."
PROFILE_HELP = ("Rule profile. Default: the profile each rendered tree's stack marker records, restricted "
                "elsewhere. " + " ".join(f"{policy.profile}: {policy.summary}." for policy in PROFILES.values()))


def _skips(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _bad_input(problems: list[object], document: str | None) -> None:
    """Exit 2 with the problems on stderr; a machine-readable format still gets its document."""
    if document is not None:
        stdout.out(document, end="", highlight=False)
    count = len(problems)
    fail(f"{count} input problem{'s' if count != 1 else ''}; nothing was checked",
         [str(problem) for problem in problems])


def check(
    paths: Annotated[list[str] | None, typer.Argument(help=PATHS_HELP + " Default: manifests.",
                                                      show_default=False)] = None,
    profile: Annotated[Profile | None, typer.Option(help=PROFILE_HELP, show_default=False)] = None,
    output: Annotated[ReportFormat, typer.Option("--output", "-o", help="Report format (github: workflow commands "
                                                                        "that annotate a pull request).")]
    = ReportFormat.TEXT,
    fail_on: Annotated[Severity | None, typer.Option(help="Lowest severity that fails the run (exit 1). "
                                                          "Default: high.", show_default=False)] = None,
    kubernetes_version: Annotated[str | None, typer.Option(
        help="Kubernetes version whose schemas are used (1.25-1.37). Default: the one the rendered trees "
             f"record, else {KUBERNETES_VERSION}.",
        show_default=False)] = None,
    skip: Annotated[list[str] | None, typer.Option(help="Kinds to skip in schema validation: Kind or "
                                                        "group/version/Kind, comma-separated or repeated.")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Run only these rule ids (repeatable).")]
    = None,
    exclude_rule: Annotated[list[str] | None, typer.Option("--exclude-rule", help="Rule ids not to run "
                                                                                  "(repeatable).")] = None,
    exclude_path: Annotated[list[str] | None, typer.Option(
        "--exclude-path", help="Files not to read: a glob on the path as given (fnmatch: * also crosses "
                               "directories), e.g. 'manifests/kustomize/*' (repeatable).")] = None,
    schema_dir: Annotated[list[str] | None, typer.Option(
        "--schema-dir", help="A directory of your own schemas: CRDs (YAML or JSON) or JSON Schema files "
                             "(x-kubernetes-group-version-kind, or kubeconform's <group>/<kind>_<version>.json) "
                             "(repeatable).")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="Report only findings this baseline does not hold (see --write-baseline).", show_default=False)] = None,
    write_baseline: Annotated[Path | None, typer.Option(
        help="Write the failed findings to this baseline file and exit 0.", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        help=f"Settings file (default: ./{CONFIG_FILE}, else [tool.vllm-infra] in ./pyproject.toml).",
        show_default=False)] = None,
    ignore_missing_schemas: Annotated[bool, typer.Option(help="Pass kinds without a schema unvalidated instead "
                                                              "of reporting them (VI-SCH-006).")] = False,
    gpu: Annotated[str | None, typer.Option(help="GPU type assumed for vLLM pods that pin none (e.g. H100-80GB); "
                                                 "without it they are judged on every GPU of their vendor.",
                                            show_default=False)] = None,
    model_config: Annotated[list[str] | None, typer.Option(
        "--model-config", help="MODEL=config.json: the architecture of a model missing from the catalog "
                               "(repeatable), for the memory fit of VI-CAP-001.", show_default=False)] = None,
    cluster: Annotated[Path | None, typer.Option(
        "--cluster", help="A stack file whose cluster inventory the scheduling rules simulate on (VI-CLU-*, "
                          "VI-GPU-005, VI-AVL-002); without it they judge the manifests alone.",
        show_default=False)] = None,
    quiet: Quiet = False,
) -> None:
    """Validate rendered YAML against strict schemas and run the vLLM policy catalog.

    Findings name file, line, object, rule, severity and JSON path, and say how to fix them.
    Waive a finding with the annotation vllm-infra.io/waive.<rule-id>: "accepts=<subject or
    fingerprint>; <reason>" on the object; waived findings are still reported. A file that
    cannot be read is a finding (VI-YAML-001) and the others are still checked. Settings come
    from --config, ./.vllm-infra.yaml or [tool.vllm-infra] in ./pyproject.toml; options win.
    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 bad input (a path that does not
    exist, no object could be read at all, a bad setting; -o json|sarif|junit|github still print
    a document saying so).
    """
    from vllm_infra.checker.baseline import BaselineError, baseline_text, read_baseline
    from vllm_infra.checker.reports import render_check
    from vllm_infra.checker.runner import run_check
    from vllm_infra.checker.schemas.validator import UnsupportedVersionError, UserSchemaError, normalize_version
    from vllm_infra.cli.config import ConfigError, load_config

    try:
        settings = load_config(config, Path())
    except ConfigError as exc:
        fail(str(exc))
    rules, excluded = rule or settings.rules, [*(exclude_rule or []), *settings.exclude_rules]
    _known_rules([*(rules or []), *excluded, *settings.severity], settings.source)
    try:
        given = kubernetes_version or settings.kubernetes_version
        version = normalize_version(given) if given else None  # else what the trees' markers record
    except UnsupportedVersionError as exc:
        fail(str(exc))
    baseline_file = baseline or (Path(settings.baseline) if settings.baseline else None)
    try:
        accepted = read_baseline(baseline_file) if baseline_file is not None and write_baseline is None else None
    except BaselineError as exc:
        fail(str(exc))
    gpu_type, architectures = _gpu_type(gpu), _model_configs(model_config or [])
    inventory = _cluster(cluster) if cluster is not None else None
    try:
        with progress(quiet) as bar:
            report = run_check(paths or ["manifests"], profile=profile or settings.profile, kubernetes_version=version,
                               skip_kinds=_skips(skip), gate=fail_on or settings.fail_on or Severity.HIGH,
                               rule_ids=rules, exclude_rules=excluded,
                               exclude_paths=[*(exclude_path or []), *settings.exclude_paths],
                               severities=settings.severity, schema_dirs=[*(schema_dir or []), *settings.schema_dirs],
                               baseline=accepted, ignore_missing_schemas=ignore_missing_schemas, progress=bar,
                               gpu=gpu_type, architectures=architectures, cluster=inventory)
    except UserSchemaError as exc:
        fail(f"--schema-dir: {exc}")
    if report.problems:
        _bad_input(list(report.problems), None if output == ReportFormat.TEXT else render_check(report, output))
    stdout.out(render_check(report, output), end="", highlight=False)
    if write_baseline is not None:
        from vllm_infra.outputs.tree import write_file

        try:
            write_file(write_baseline, baseline_text(report.findings))
        except OSError as error:
            fail(f"cannot write {write_baseline}: {error.strerror or error}")
        count = sum(1 for finding in report.findings if finding.status.value == "failed")
        say(f"{write_baseline}: {count} finding{'s' if count != 1 else ''} written to the baseline", stderr)
        raise typer.Exit(int(ExitCode.OK))
    raise typer.Exit(int(report.exit_code))


def _known_rules(ids: list[str], source: str | None) -> None:
    """Exit 2 naming rule ids the catalog does not have."""
    from vllm_infra.checker.rules import RULES

    unknown = sorted(set(ids) - set(RULES))
    if unknown:
        where = f" in {source}" if source else ""
        fail(f"unknown rule id{'s' if len(unknown) > 1 else ''}{where}: {', '.join(unknown)} (see `vllm-infra rules`)")


def validate(
    paths: Annotated[list[str] | None, typer.Argument(help=PATHS_HELP + " Default: manifests.",
                                                      show_default=False)] = None,
    kubernetes_version: Annotated[str, typer.Option(help="Kubernetes version whose schemas are used (1.25-1.37).")]
    = KUBERNETES_VERSION,
    skip: Annotated[list[str] | None, typer.Option(help="Kinds to skip: Kind or group/version/Kind, "
                                                        "comma-separated or repeated.")] = None,
    output: Annotated[ReportFormat, typer.Option("--output", "-o", help="Report format.")] = ReportFormat.TEXT,
    schema_dir: Annotated[list[str] | None, typer.Option(
        "--schema-dir", help="A directory of your own schemas: CRDs or JSON Schema files (repeatable).")] = None,
    quiet: Quiet = False,
) -> None:
    """Validate every object strictly (unknown fields are errors) against one Kubernetes version's
    schemas and the vendored add-on CRDs (KEDA, LeaderWorkerSet, Prometheus Operator, Gateway API,
    Inference Extension). An object without a schema is an error unless --skip names its kind.

    Exit codes: 0 all valid, 1 invalid objects or missing schemas, 2 bad input.
    """
    from vllm_infra.checker.reports import render_validate
    from vllm_infra.checker.runner import run_validate
    from vllm_infra.checker.schemas.validator import UnsupportedVersionError, UserSchemaError

    try:
        with progress(quiet) as bar:
            report = run_validate(paths or ["manifests"], kubernetes_version=kubernetes_version,
                                  skip_kinds=_skips(skip), progress=bar, schema_dirs=schema_dir or [])
    except UnsupportedVersionError as exc:
        fail(str(exc))
    except UserSchemaError as exc:
        fail(f"--schema-dir: {exc}")
    if report.problems:
        _bad_input(list(report.problems), None if output == ReportFormat.TEXT else render_validate(report, output))
    stdout.out(render_validate(report, output), end="", highlight=False)
    raise typer.Exit(int(report.exit_code))


def rules(
    rule_id: Annotated[str | None, typer.Argument(help="A rule id: print its page (why, how to fix, an example).",
                                                  show_default=False)] = None,
    output: Annotated[DataFormat, typer.Option("--output", "-o", help="Table or JSON.")] = DataFormat.TEXT,
) -> None:
    """List the policy catalog (id, severity, scope, GPU-specific, title), or one rule's page."""
    import json

    from vllm_infra.checker.rules import RULES

    catalog = sorted(RULES.values(), key=lambda r: r.id)
    if rule_id is not None:
        chosen = RULES.get(rule_id.upper())
        if chosen is None:
            fail(f"unknown rule id {rule_id} (see `vllm-infra rules`)")
        catalog = [chosen]
    if output == DataFormat.JSON:
        stdout.out(json.dumps([{"id": r.id, "severity": r.severity.value, "scope": r.scope.value,
                                "gpu_specific": r.gpu_specific, "title": r.title, "remediation": r.remediation,
                                "rationale": r.rationale, "example": r.example,
                                "relaxed_by": [p.profile.value for p in PROFILES.values() if not p.applies(r.id)]}
                               for r in catalog], indent=2), highlight=False)
        return
    if rule_id is not None:
        say(_rule_page(catalog[0]))
        return
    from rich.table import Table

    table = Table("id", "severity", "scope", "GPU", "title", title=f"{len(catalog)} rules")
    for r in catalog:
        table.add_row(r.id, r.severity.value, r.scope.value, "yes" if r.gpu_specific else "", r.title)
    print_table(table)


def _rule_page(rule: Rule) -> str:
    """One rule, for a person deciding what to do about a finding."""
    import textwrap

    relaxed = [policy.profile.value for policy in PROFILES.values() if not policy.applies(rule.id)]
    facts = [f"severity {rule.severity}", f"{rule.scope} rule", *(["GPU-specific"] if rule.gpu_specific else []),
             *([f"not run under the {', '.join(relaxed)} profile"] if relaxed else [])]
    example = textwrap.indent(rule.example, "    ")
    return "\n".join([f"{rule.id}: {rule.title}", ", ".join(facts), "", "Why:", textwrap.fill(rule.rationale, 100,
                      initial_indent="  ", subsequent_indent="  "), "", "Fix:",
                      textwrap.fill(rule.remediation, 100, initial_indent="  ", subsequent_indent="  "), "",
                      "Example that fails:", example, "",
                      f"Waive one finding: vllm-infra.io/waive.{rule.id}: \"accepts=<subject or fingerprint>; "
                      "<reason>\" on the object (`check -o json` gives both)."])


def _gpu_type(name: str | None) -> GpuType | None:
    from vllm_infra.catalog.gpus import GpuType

    if name is None:
        return None
    try:
        return GpuType(name)
    except ValueError:
        fail(f"--gpu {name!r} is not a GPU type of the catalog ({', '.join(t.value for t in GpuType)})")


def _model_configs(items: list[str]) -> dict[str, ModelArchitecture]:
    """``MODEL=config.json`` pairs read as architectures; bad input exits 2 naming the file."""
    from vllm_infra.catalog.hf_config import UnsizedArchitecture, read_model_config

    found: dict[str, ModelArchitecture] = {}
    for item in items:
        model, separator, path = item.partition("=")
        if not separator or not model or not path:
            fail(f"--model-config {item!r}: expected MODEL=path/to/config.json")
        try:
            found[model] = read_model_config(Path(path))
        except UnsizedArchitecture as exc:
            fail(f"--model-config {item!r}: {exc}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError, OverflowError) as exc:
            fail(f"--model-config {item!r}: cannot read a model architecture from {path}: {type(exc).__name__}")
    return found


def _cluster(path: Path) -> Cluster:
    """The simulator's cluster from a stack file's ``cluster``; exit 2 when it has none or is invalid."""
    from vllm_infra.operations.simulate import cluster_of
    from vllm_infra.outputs.stack_config import StackConfigError, load_stack

    try:
        fleet = load_stack(path)
    except StackConfigError as exc:
        fail(f"--cluster {path}: {len(exc.problems)} problem(s) in the stack file", [str(p) for p in exc.problems])
    if fleet.cluster is None:
        fail(f"--cluster {path}: the stack declares no cluster inventory (add a `cluster:` with node_pools)")
    return cluster_of(fleet.cluster)
