"""Hostile and malformed manifests: the rule engine never raises, every report stays valid, and a
rule that cannot read an object says so instead of passing it.

The fuzz takes the reference trees and the hand-written fixtures, replaces one field (anywhere in
one object) with a value of another type, a null, a huge number, or deletes it, and runs the
whole check on the result (fixed seed, a few hundred examples)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MANIFESTS_DIR, field_paths
from vllm_infra.checker.loading import load
from vllm_infra.checker.reports import render_check
from vllm_infra.checker.runner import check_objects, run_check
from vllm_infra.vocabulary.reporting import Profile, ReportFormat

HANDWRITTEN = Path(__file__).parent / "fixtures" / "handwritten"
_SOURCES = sorted([*MANIFESTS_DIR.rglob("*.yaml"), *HANDWRITTEN.glob("*.yaml")])
OBJECTS = [source.manifest for source in load([str(path) for path in _SOURCES])[0]]
REPLACEMENTS = [{}, [], 5, -1, 0, "x", "", None, True, 1e308, float("inf"), float("nan"), 2**63, -2**63, [None],
                {"": []}, [[{}]], "$(", "-", 1.5, "\x1b[31m", "../../x"]


PATHS = [(index, path) for index, obj in enumerate(OBJECTS) for path in field_paths(obj) if path]


def _mutate(objects: list[Any], index: int, path: tuple[Any, ...], replacement: Any, delete: bool) -> None:
    parent = objects[index]
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(replacement)


def _nested_list(text: str) -> str:
    inner = "\n".join("      " + line for line in text.splitlines())
    return f"apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: List\n    items:\n    -\n{inner}\n"


DOTTED_BOMB = "".join(["a0: &l.0 [x, x, x, x, x, x, x, x, x, x]\n"] + [
    f"a{level}: &l.{level} [{', '.join([f'*l.{level - 1}'] * 10)}]\n" for level in range(1, 9)])

TEXT_TRANSFORMS: dict[str, Any] = {
    "CR line endings": lambda text: text.replace("\n", "\r"),
    "CRLF line endings": lambda text: text.replace("\n", "\r\n"),
    "a BOM": lambda text: "\ufeff" + text,
    "nested Lists": _nested_list,
    "a dotted-anchor bomb": lambda text: text + "---\n" + DOTTED_BOMB,
    "nesting past the recursion limit": lambda text: text + "---\nx: " + "[" * 1200 + "]" * 1200 + "\n",
    "a document that is a list": lambda text: text + "---\n- [1]\n",
    "a Tab in indentation": lambda text: text.replace("\n  ", "\n\t", 1),
}
"""Whole-file shapes of the second hostile round: each file still reads (or is a finding), in bounded
time, and every report stays valid."""
FILES = [path for path in _SOURCES if path.name != "kustomization.yaml"]


def text_stays_checked(text: str, directory: Path) -> None:
    """``check`` over one file of ``text`` (the streaming path, from bytes), every format valid."""
    target = directory / "fuzz.yaml"
    target.write_bytes(text.encode())
    report = run_check([str(target)])
    for output in (ReportFormat.JSON, ReportFormat.SARIF):
        json.loads(render_check(report, output), parse_constant=_strict)
    for output in (ReportFormat.TEXT, ReportFormat.JUNIT, ReportFormat.GITHUB):
        render_check(report, output)


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(FILES), st.sampled_from(sorted(TEXT_TRANSFORMS)))
def test_whole_file_shapes_never_escape(tmp_path: Path, path: Path, transform: str) -> None:
    text_stays_checked(TEXT_TRANSFORMS[transform](path.read_text()), tmp_path)


def _strict(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _reports_stay_valid(objects: list[Any]) -> None:
    report = check_objects(objects, "fuzz.yaml", profile=Profile.RESTRICTED)
    json.loads(render_check(report, ReportFormat.JSON), parse_constant=_strict)
    json.loads(render_check(report, ReportFormat.SARIF), parse_constant=_strict)
    render_check(report, ReportFormat.TEXT)
    render_check(report, ReportFormat.JUNIT)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), st.sampled_from(REPLACEMENTS), st.booleans())
def test_single_field_mutations_never_escape(target: tuple[int, tuple[Any, ...]], replacement: Any,
                                             delete: bool) -> None:
    objects = copy.deepcopy(OBJECTS)
    index, path = target
    _mutate(objects, index, path, replacement, delete)
    _reports_stay_valid(objects)


def test_whole_object_shapes_never_escape() -> None:
    for shape in ({"kind": ["Pod"], "apiVersion": "v1"}, {"kind": "Deployment", "metadata": "x"},
                  {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "x"}, "spec": []},
                  {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "x"},
                   "spec": {"template": {"spec": {"containers": {}}}}},
                  {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "x", "annotations": []},
                   "spec": {"ports": 5}}):
        _reports_stay_valid([*copy.deepcopy(OBJECTS[:3]), shape])


def test_a_rule_that_cannot_read_an_object_reports_it() -> None:
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "llm"},
              "spec": {"template": {"spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.18.1",
                                                             "args": ["--model", "m"], "env": "oops"}]}}}}
    report = check_objects([broken], "broken.yaml", profile=Profile.RESTRICTED)
    unreadable = [(f.rule.id, f.message) for f in report.findings if "could not evaluate" in f.message]
    assert unreadable == [("VI-SCH-005", "could not evaluate this object (AttributeError): it is malformed where the "
                                         "rule reads it (the schema findings name the field), or vllm-infra has a bug")]
    assert ("VI-SCH-001", '"oops" is not of types "null", "array"') in [(f.rule.id, f.message) for f in report.findings]
    assert report.exit_code == 1


def test_valid_trees_are_evaluated_by_every_rule() -> None:
    """The guard must not hide a rule that fails on well-formed input."""
    report = check_objects(copy.deepcopy(OBJECTS), "reference.yaml", profile=Profile.RESTRICTED)
    assert [f.rule.id for f in report.findings if "could not evaluate" in f.message] == []


def _stack_configs() -> list[Any]:
    from ruamel.yaml import YAML

    from tests.conftest import STACKS_DIR
    from vllm_infra.outputs.stack_config import FLEET_KEY

    return [YAML(typ="safe").load(path.read_text())["config"][FLEET_KEY]
            for path in sorted(STACKS_DIR.glob("Pulumi.*.yaml")) if path.name.count(".") == 2]


STACKS = _stack_configs()
STACK_PATHS = [(index, path) for index, stack in enumerate(STACKS) for path in field_paths(stack) if path]


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(STACK_PATHS), st.sampled_from(REPLACEMENTS), st.booleans())
def test_single_field_mutations_of_stacks_are_refused_or_rendered(target: tuple[int, tuple[Any, ...]],
                                                                 replacement: Any, delete: bool) -> None:
    """A stack with one field changed is either refused with problems (exit 2) or rendered and
    checked: nothing else escapes."""
    from vllm_infra.outputs.stack_config import StackConfigError, fleet_from_config
    from vllm_infra.render import render_fleet

    stacks = copy.deepcopy(STACKS)
    index, path = target
    _mutate(stacks, index, path, replacement, delete)
    try:
        fleet = fleet_from_config(stacks[index])
    except StackConfigError as error:
        assert error.problems and all(str(problem) for problem in error.problems)
        return
    _reports_stay_valid(render_fleet(fleet))


WORKLOAD_PATHS = [(index, path) for index, path in PATHS
                  if OBJECTS[index].get("kind") in ("Deployment", "LeaderWorkerSet", "PodDisruptionBudget",
                                                    "HorizontalPodAutoscaler", "ScaledObject")]


def _cluster() -> Any:
    from vllm_infra.operations.simulate import cluster_of
    from vllm_infra.spec.cluster import ClusterSpec

    return cluster_of(ClusterSpec.model_validate({"node_pools": [
        {"name": "h100", "gpu": "H100-80GB", "cpu": "190", "memory": "1900Gi", "nodes": 4, "max_nodes": 6,
         "zones": ["a", "b"]},
        {"name": "l4", "gpu": "L4", "cpu": "46", "memory": "180Gi", "nodes": 1, "max_nodes": 2}]}))


CLUSTER = _cluster()


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(WORKLOAD_PATHS), st.sampled_from(REPLACEMENTS), st.booleans())
def test_mutated_workloads_never_escape_the_scheduling_simulation(target: tuple[int, tuple[Any, ...]],
                                                                  replacement: Any, delete: bool) -> None:
    objects = copy.deepcopy(OBJECTS)
    index, path = target
    _mutate(objects, index, path, replacement, delete)
    report = check_objects(objects, "fuzz.yaml", profile=Profile.RESTRICTED, cluster=CLUSTER)
    json.loads(render_check(report, ReportFormat.JSON), parse_constant=_strict)
