"""Run Pulumi programs under the SDK's mocks (no CLI, no engine) and record every registration."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks


@dataclass
class Registration:
    """What the engine would have been asked to register."""

    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    provider: str
    ignore_changes: list[str]
    custom_timeouts: dict[str, str]
    urn: str = ""


def normalise(value: Any) -> Any:
    """Mock inputs carry numbers as floats; turn integral floats back into ints."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Recorder(pulumi.runtime.Mocks):
    """Mocks that echo inputs as state and record registrations."""

    registrations: list[Registration] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """Inputs of every registered Kubernetes resource (providers excluded), normalised."""
        return [normalise(r.inputs) for r in self.registrations
                if r.type.startswith("kubernetes:") and not r.type.startswith("pulumi:providers:")]

    def by_name(self, name: str) -> Registration:
        [match] = [r for r in self.registrations if r.name == name]
        return match


def run(program: Callable[[], Any], *, stack: str = "dev", config: dict[str, Any] | None = None,
        monkeypatch: Any) -> Recorder:
    """Run ``program`` under mocks with ``vllm-infra:*`` config; return the recorder."""
    recorder = Recorder()
    original = pulumi_mocks.MockMonitor.RegisterResource

    def register(monitor: Any, request: Any) -> Any:
        response = original(monitor, request)
        recorder.registrations.append(Registration(
            type=request.type, name=request.name, inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
            parent=request.parent, provider=request.provider, ignore_changes=list(request.ignoreChanges),
            custom_timeouts={"create": request.customTimeouts.create, "update": request.customTimeouts.update},
            urn=response.urn))
        return response

    monkeypatch.setattr(pulumi_mocks.MockMonitor, "RegisterResource", register)
    pulumi.runtime.set_mocks(recorder, project="vllm-infra", stack=stack, preview=False)
    pulumi.runtime.set_all_config({f"vllm-infra:{key}": value if isinstance(value, str) else json.dumps(value)
                                   for key, value in (config or {}).items()})
    @pulumi.runtime.test
    def execute() -> Any:
        return program()

    execute()
    return recorder
