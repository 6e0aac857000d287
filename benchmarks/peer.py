"""kubeconform, the peer validator, on the same files as `vllm-infra validate` and `check`.

The binary and its schema builder live outside the repository (``../shared/bin/kubeconform``,
``../shared/tools/make_kubeconform_schemas.py``); when they are absent the benchmark runs without
the peer and says so. The builder converts the project's CRDs with the project's own function,
which it imports by the module names of an earlier layout; ``python -m benchmarks.peer OUT`` runs
it with those names pointing at today's modules.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KUBECONFORM = SHARED / "bin" / "kubeconform"
SCHEMA_BUILDER = SHARED / "tools" / "make_kubeconform_schemas.py"
SUMMARY = re.compile(r"Summary: (\d+) resources? found in (\d+) files? - Valid: (\d+), Invalid: (\d+), "
                     r"Errors: (\d+), Skipped: (\d+)")


def available() -> bool:
    """Whether the peer and its schema builder are here."""
    return KUBECONFORM.is_file() and SCHEMA_BUILDER.is_file()


def command(schemas: Path, kubernetes_version: str, directory: Path) -> list[str]:
    """kubeconform, strict, on every manifest under ``directory`` (kustomization files excluded),
    as ``../shared/bin/README.md`` says to run it."""
    return [str(KUBECONFORM), "-strict", "-summary", "-kubernetes-version", f"{kubernetes_version}.0",
            "-schema-location",
            f"{schemas}/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}/"
            "{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            f"{schemas}/crds/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
            "-ignore-filename-pattern", r"kustomization\.yaml$", str(directory)]


def check_summary(output: str, objects: int) -> None:
    """kubeconform counts a resource without a schema as skipped, silently: refuse a run that did
    not validate every object."""
    match = SUMMARY.search(output)
    if match is None:
        raise SystemExit(f"kubeconform printed no summary:\n{output}")
    found, _files, valid, invalid, errors, skipped = map(int, match.groups())
    if (found, valid, invalid, errors, skipped) != (objects, objects, 0, 0, 0):
        raise SystemExit(f"kubeconform did not validate all {objects} objects: {match.group(0)}")


def build_schemas(out: Path) -> None:
    """Run the shared schema builder with the module names it expects."""
    from vllm_infra.checker.schemas import validator
    from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION

    spec = importlib.util.spec_from_file_location("make_kubeconform_schemas", SCHEMA_BUILDER)
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    schemas = types.ModuleType("vllm_infra.validation.schemas")
    schemas._structural_to_json_schema = validator._structural_to_json_schema  # type: ignore[attr-defined]
    vendor = types.ModuleType("vllm_infra.validation.vendor")
    vendor.CRD_DIR = validator.CRD_DIR  # type: ignore[attr-defined]
    sys.modules.update({"vllm_infra.validation": types.ModuleType("vllm_infra.validation"),
                        "vllm_infra.validation.schemas": schemas, "vllm_infra.validation.vendor": vendor})
    sys.argv = [str(SCHEMA_BUILDER), str(ROOT), str(out), "--version", KUBERNETES_VERSION]
    if builder.main() != 0:
        raise SystemExit("the kubeconform schema builder failed")


if __name__ == "__main__":
    build_schemas(Path(sys.argv[1]))
