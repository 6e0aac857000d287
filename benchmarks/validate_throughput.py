"""Schema validation throughput, in-process: jsonschema-rs (vllm-infra validate) vs the
kubernetes-validate package (the Python reference for the same schemas).

Run: .venv/bin/python -m benchmarks.validate_throughput [--services 1500]
"""

from __future__ import annotations

import argparse
import time

import kubernetes_validate

from benchmarks.fleet import fleet
from vllm_infra.render import render_fleet
from vllm_infra.spec import FleetSpec
from vllm_infra.validation.schemas import SchemaValidator

CORE_GROUPS = ("v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1500)
    parser.add_argument("--reference-sample", type=int, default=300,
                        help="objects validated by kubernetes-validate (it is slow)")
    args = parser.parse_args()
    objects = render_fleet(FleetSpec.model_validate(fleet(args.services)))
    validator = SchemaValidator()
    start = time.perf_counter()
    for obj in {(o["apiVersion"], o["kind"]): o for o in objects}.values():
        validator.validator(obj["apiVersion"], obj["kind"])
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    invalid = sum(1 for obj in objects if validator.validate(obj))
    ours = len(objects) / (time.perf_counter() - start)

    sample = [o for o in objects if o["apiVersion"] in CORE_GROUPS][: args.reference_sample]
    start = time.perf_counter()
    for obj in sample:
        kubernetes_validate.validate(obj, "1.33", strict=True)
    reference = len(sample) / (time.perf_counter() - start)

    print(f"objects: {len(objects)} ({invalid} invalid), schemas compiled in {compile_seconds * 1000:.0f} ms")
    print(f"vllm-infra validate (jsonschema-rs): {ours:,.0f} objects/s")
    print(f"kubernetes-validate (reference):      {reference:,.0f} objects/s on {len(sample)} core objects")
    print(f"ratio: {ours / reference:,.0f}x")


if __name__ == "__main__":
    main()
