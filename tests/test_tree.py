"""Writing a stack directory: only inside it, atomically, and only when something changed."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from vllm_infra.outputs.tree import write_stack_dir
from vllm_infra.outputs.writers import LayoutError, RenderedStack, StackFile, StackPart
from vllm_infra.outputs.writers.flat import FlatWriter


@pytest.mark.parametrize("relative", ["../escaped.yaml", "/tmp/escaped.yaml", "a/../../escaped.yaml"])
def test_paths_outside_the_stack_directory_are_refused(tmp_path: Path, relative: str) -> None:
    directory = tmp_path / "out" / "dev"
    with pytest.raises(LayoutError, match="outside the stack directory"):
        write_stack_dir(directory, [lambda: iter([(PurePosixPath("ok.yaml"), b"a: 1\n"),
                                                  (PurePosixPath(relative), b"x: 1\n")])])
    assert not (tmp_path / "out" / "escaped.yaml").exists()
    assert not (tmp_path / "escaped.yaml").exists()
    assert sorted((tmp_path / "out").iterdir()) == []  # the staging directory is gone too


def test_nested_files_and_what_changed(tmp_path: Path) -> None:
    directory = tmp_path / "dev"
    files = [(PurePosixPath("a.yaml"), b"a: 1\n"), (PurePosixPath("nested/b.yaml"), b"b: 1\n")]
    assert write_stack_dir(directory, parts(files)) is True
    assert write_stack_dir(directory, parts(files)) is False
    assert write_stack_dir(directory, parts(files[:1])) is True
    assert sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) == ["a.yaml"]
    assert write_stack_dir(directory, parts([(PurePosixPath("a.yaml"), b"a: 2\n")])) is True
    assert (directory / "a.yaml").read_bytes() == b"a: 2\n"


def parts(files: list[StackFile]) -> list[StackPart]:
    """One part per file, as a large stack would come."""
    return [lambda file=file: iter([file]) for file in files]


def test_two_objects_for_one_file_are_refused_before_any_content() -> None:
    objects = [{"kind": "Service", "metadata": {"name": "x"}}, {"kind": "Service", "metadata": {"name": "x"}}]
    with pytest.raises(LayoutError, match=r"two objects would be written to service-x\.yaml"):
        FlatWriter().paths(RenderedStack("dev", "stacks/Pulumi.dev.yaml", objects, "dev"))
