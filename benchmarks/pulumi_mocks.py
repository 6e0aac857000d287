"""The stack program (stacks/__main__.py) for a synthetic fleet under the Pulumi SDK's mocks.

Run by benchmarks.run in a child process (Pulumi's runtime state is per process):
``python -m benchmarks.pulumi_mocks SERVICES`` prints one JSON line with the registered
Kubernetes resources and the seconds the program took.
"""

from __future__ import annotations

import json
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import pulumi

from benchmarks.fleet import fleet

PROGRAM = Path(__file__).resolve().parent.parent / "stacks" / "__main__.py"


class CountingMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs and count Kubernetes objects (providers and components excluded)."""

    def __init__(self) -> None:
        self.kubernetes_objects = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ.startswith("kubernetes:"):
            self.kubernetes_objects += 1
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def main() -> None:
    services = int(sys.argv[1])
    mocks = CountingMocks()
    pulumi.runtime.set_mocks(mocks, project="vllm-infra", stack="bench", preview=False)
    pulumi.runtime.set_all_config({"vllm-infra:fleet": json.dumps(fleet(services)), "vllm-infra:mode": "gitops"})

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(PROGRAM))

    start = time.perf_counter()
    program()
    seconds = time.perf_counter() - start
    print(json.dumps({"services": services, "objects": mocks.kubernetes_objects, "seconds": seconds}))


if __name__ == "__main__":
    main()
