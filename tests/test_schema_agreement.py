"""`vllm-infra validate` (jsonschema-rs) agrees with kubernetes-validate's strict mode on a corpus
of valid objects and random invalid mutations of them."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import STACKS_DIR, field_paths
from vllm_infra.checker.schemas.validator import SchemaValidator, UnknownKindError
from vllm_infra.outputs.synth import synthesize

VALIDATOR = SchemaValidator("1.33")
CORPUS = [obj for stack in synthesize(STACKS_DIR) for obj in stack.objects
          if "/" not in obj["apiVersion"] or obj["apiVersion"].split("/")[0] in
          ("apps", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io")]


def reference_valid(obj: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(obj, "1.33", strict=True)
    except kubernetes_validate.ValidationError:
        return False
    return True


def test_corpus_covers_every_core_kind_we_render() -> None:
    assert {o["kind"] for o in CORPUS} == {"Namespace", "ServiceAccount", "Service", "Deployment",
                                           "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
                                           "PersistentVolumeClaim", "ConfigMap", "Role", "RoleBinding"}


@pytest.mark.parametrize("obj", CORPUS, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_valid_objects_agree(obj: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(obj) is reference_valid(obj) is True


MUTATIONS = st.sampled_from(["unknown-field", "wrong-type", "null-out", "drop"])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_mutations_agree(data: st.DataObject) -> None:
    obj = copy.deepcopy(data.draw(st.sampled_from(CORPUS)))
    target_path = data.draw(st.sampled_from([p for p in field_paths(obj) if p and p[0] not in ("apiVersion", "kind")]))
    parent = obj
    for part in target_path[:-1]:
        parent = parent[part]
    key = target_path[-1]
    mutation = data.draw(MUTATIONS)
    if mutation == "unknown-field":
        holder = parent[key] if isinstance(parent[key], dict) else parent
        assume(isinstance(holder, dict))
        holder["bogusField"] = 1
    elif mutation == "wrong-type":
        parent[key] = [parent[key]] if not isinstance(parent[key], list) else {"x": parent[key]}
    elif mutation == "null-out":
        parent[key] = None
    else:
        del parent[key]
    ours = VALIDATOR.is_valid(obj)
    assert ours is reference_valid(obj), (mutation, target_path)
    assert (VALIDATOR.validate(obj) == []) is ours


def test_unknown_kind_is_an_error_in_both() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(UnknownKindError):
        VALIDATOR.validate(widget)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(widget, "1.33", strict=True)
