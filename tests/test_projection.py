"""The bundle phase of a check sees projections (``reading.projection``): on every fixture, every
rule mutation, the reference trees, the hand-written manifests and the real-world corpus, the
bundle rules and the scheduling simulation find exactly what they find on the objects themselves."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MANIFESTS_DIR, ROOT
from tests.rule_fixtures import find, good_objects, lws_objects
from tests.test_rules import CASES, CLUSTER_CASES, LWS_CASES, good_cluster
from vllm_infra.checker.loading import load
from vllm_infra.checker.reading.projection import SharedNodes, bundle_projection
from vllm_infra.checker.rules import RULES, BundleRule, RuleContext, evaluate
from vllm_infra.checker.simulation.scenarios import simulate_manifests
from vllm_infra.operations.simulate import cluster_of
from vllm_infra.spec.cluster import ClusterSpec
from vllm_infra.vocabulary.reporting import Profile

BUNDLE_RULES = [rule for rule in RULES.values() if isinstance(rule, BundleRule)]
CORPUS = ROOT.parent / "shared" / "corpus" / "files"


def _bundle_findings(objects: list[dict[str, Any]], context: RuleContext) -> list[tuple[str, str, str, str]]:
    return sorted((f.rule.id, str(f.obj.get("kind")), str((f.obj.get("metadata") or {}).get("name")), f.message)
                  for f in evaluate(objects, BUNDLE_RULES, context))


def _projected(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shared = SharedNodes()
    return [bundle_projection(obj, shared) for obj in objects]


def _same_on_projections(objects: list[dict[str, Any]], cluster: dict[str, Any] | None = None) -> None:
    original = copy.deepcopy(objects)
    projected = _projected(objects)
    assert objects == original, "projection must not change the objects"
    for profile in Profile:
        context = RuleContext(profile=profile)
        if cluster is not None:
            inventory = cluster_of(ClusterSpec.model_validate(cluster))
            full = RuleContext(profile=profile, simulation=simulate_manifests(inventory, objects))
            small = RuleContext(profile=profile, simulation=simulate_manifests(inventory, projected))
            assert full.simulation is not None and small.simulation is not None
            assert small.simulation.outcomes == full.simulation.outcomes
            assert _bundle_findings(projected, small) == _bundle_findings(objects, full)
        else:
            assert _bundle_findings(projected, context) == _bundle_findings(objects, context)


@pytest.mark.parametrize(("rule_id", "case", "mutate", "expected"), CASES + LWS_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES + LWS_CASES])
def test_mutated_fixtures(rule_id: str, case: str, mutate: Any, expected: Any) -> None:
    objects = lws_objects() if (rule_id, case, mutate, expected) in LWS_CASES else good_objects()
    mutate(objects)
    _same_on_projections(objects)


@pytest.mark.parametrize(("rule_id", "case", "mutate", "cluster", "expected"), CLUSTER_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CLUSTER_CASES])
def test_mutated_fixtures_on_a_cluster(rule_id: str, case: str, mutate: Any, cluster: dict[str, Any],
                                       expected: Any) -> None:
    objects = good_objects()
    _same_on_projections(objects, good_cluster())
    mutate(objects)
    _same_on_projections(objects, cluster)


def _trees() -> list[Path]:
    trees = [MANIFESTS_DIR / name for name in ("dev", "staging", "prod")]
    trees += sorted((ROOT / "tests" / "fixtures" / "handwritten").glob("*.yaml"))
    return trees + (sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else [])


@pytest.mark.parametrize("path", _trees(), ids=lambda p: p.name)
def test_reference_trees_hand_written_files_and_the_corpus(path: Path) -> None:
    objects = [obj.manifest for obj in load([str(path)])[0]]
    _same_on_projections(objects)


def test_equal_subtrees_are_held_once_and_objects_stay_apart() -> None:
    deployment = find(good_objects(), "Deployment", "llama")
    twins = [copy.deepcopy(deployment), copy.deepcopy(deployment)]
    first, second = _projected(twins)
    assert first == second and first is not second
    assert first["spec"] is second["spec"]
