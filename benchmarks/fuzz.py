"""The longer fuzz run: the robustness suite's single-field mutations of the reference manifests and
stacks (``tests/test_hostile_manifests.py``), with many more examples and a random seed. It prints
how many examples ran and exits 1 on the first input that makes anything escape (hypothesis then
prints the input, shrunk).

Run from a checkout:  .venv/bin/python -m benchmarks.fuzz [--examples 5000]
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_hostile_manifests import (
    FILES,
    OBJECTS,
    PATHS,
    REPLACEMENTS,
    STACK_PATHS,
    STACKS,
    TEXT_TRANSFORMS,
    _mutate,
    _reports_stay_valid,
    text_stays_checked,
)
from vllm_infra.outputs.stack_config import StackConfigError, fleet_from_config
from vllm_infra.render import render_fleet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="Examples per target.")
    examples = parser.parse_args(argv).examples
    budget = settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))

    @budget
    @given(st.sampled_from(PATHS), st.sampled_from(REPLACEMENTS), st.booleans())
    def manifests(target: tuple[int, tuple[Any, ...]], replacement: Any, delete: bool) -> None:
        objects = copy.deepcopy(OBJECTS)
        _mutate(objects, target[0], target[1], replacement, delete)
        _reports_stay_valid(objects)

    @budget
    @given(st.sampled_from(STACK_PATHS), st.sampled_from(REPLACEMENTS), st.booleans())
    def stacks(target: tuple[int, tuple[Any, ...]], replacement: Any, delete: bool) -> None:
        data = copy.deepcopy(STACKS)
        _mutate(data, target[0], target[1], replacement, delete)
        try:
            fleet = fleet_from_config(data[target[0]])
        except StackConfigError:
            return
        _reports_stay_valid(render_fleet(fleet))

    @budget
    @given(st.sampled_from(FILES), st.lists(st.sampled_from(sorted(TEXT_TRANSFORMS)), min_size=1, max_size=3))
    def files(path: Any, transforms: list[str]) -> None:
        text = path.read_text()
        for transform in transforms:
            text = TEXT_TRANSFORMS[transform](text)
        with tempfile.TemporaryDirectory() as directory:
            text_stays_checked(text, Path(directory))

    for name, target in (("manifests", manifests), ("stacks", stacks), ("files", files)):
        started = time.monotonic()
        try:
            target()
        except Exception as error:  # the finding of a fuzz run: hypothesis printed the input
            print(f"{name}: ESCAPED {type(error).__name__}: {error}")
            return 1
        print(f"{name}: {examples} examples, nothing escaped ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
