"""Library stages and peers for one fleet size, in a fresh process (run by benchmarks.run).

``python -m benchmarks.stages SERVICES --collector cli|default`` prints one JSON object: seconds
for spec validation, rendering, YAML writing, schema validation and the rule catalog, each a
single pass as in a real run; PyYAML's C emitter on the same objects; kubernetes-validate on a
sample of the core-kind objects and ours on all of them; and plain writes of the YAML files into
``--scratch`` (the file-system floor of synth, which writes one file per object). ``cli`` applies
the garbage-collector settings of the ``vllm-infra`` command, ``default`` leaves CPython's.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import kubernetes_validate
import yaml

from benchmarks.fleet import fleet
from vllm_infra.checker.rules import RULES, evaluate
from vllm_infra.checker.schemas.validator import SchemaValidator
from vllm_infra.cli import tune_collector
from vllm_infra.outputs.writers import RenderedStack, stack_files
from vllm_infra.outputs.writers.flat import FlatWriter
from vllm_infra.render import render_fleet
from vllm_infra.spec import FleetSpec
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION

CORE_GROUPS = ("v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1")
T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """Result and wall-clock seconds of ``action``."""
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def warm_up(validator: SchemaValidator) -> None:
    """Import lazily loaded code and compile every schema before anything is timed, for us and
    for the reference validator (which reads its schema files on first use)."""
    objects = render_fleet(FleetSpec.model_validate(fleet(4)))
    evaluate(objects, RULES.values())
    for obj in {(o["apiVersion"], o["kind"]): o for o in objects}.values():
        validator.validate(obj)
        if obj["apiVersion"] in CORE_GROUPS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def measure(services: int, reference_sample: int, scratch: Path) -> dict[str, Any]:
    validator = SchemaValidator()
    warm_up(validator)
    data = fleet(services)
    spec, spec_seconds = timed(lambda: FleetSpec.model_validate(data))
    objects, render_seconds = timed(lambda: render_fleet(spec))
    stack = RenderedStack("bench", "stacks/Pulumi.bench.yaml", objects)
    files, yaml_seconds = timed(lambda: dict(stack_files(FlatWriter(), stack)))
    _, schema_seconds = timed(lambda: [validator.validate(obj) for obj in objects])
    findings, rules_seconds = timed(lambda: evaluate(objects, RULES.values()))
    if findings:
        raise SystemExit(f"the synthetic fleet should pass every rule; got {len(findings)} findings")
    _, pyyaml_seconds = timed(lambda: [yaml.dump(obj, Dumper=yaml.CSafeDumper, default_flow_style=False)
                                       for obj in objects])
    scratch.mkdir(parents=True)
    _, write_seconds = timed(lambda: [(scratch / name).write_bytes(content) for name, content in files.items()])
    core = [obj for obj in objects if obj["apiVersion"] in CORE_GROUPS]
    sample = core[:reference_sample]
    _, reference_seconds = timed(lambda: [kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
                                          for obj in sample])
    _, ours_seconds = timed(lambda: [validator.validate(obj) for obj in core])
    count = len(objects)
    return {
        "services": services, "objects": count,
        "stages": {"spec": [spec_seconds, services], "render": [render_seconds, count],
                   "yaml": [yaml_seconds, count], "schema": [schema_seconds, count],
                   "rules": [rules_seconds, count]},
        "peers": {"pyyaml_dump": [pyyaml_seconds, count], "file_writes": [write_seconds, len(files)],
                  "kubernetes_validate": [reference_seconds, len(sample)],
                  "ours_on_core_kinds": [ours_seconds, len(core)]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("services", type=int)
    parser.add_argument("--collector", choices=("cli", "default"), default="cli")
    parser.add_argument("--reference-sample", type=int, default=300)
    parser.add_argument("--scratch", type=Path, required=True, help="a new directory for the file-write floor")
    args = parser.parse_args()
    if args.collector == "cli":
        tune_collector()
    print(json.dumps(measure(args.services, args.reference_sample, args.scratch)))


if __name__ == "__main__":
    main()
