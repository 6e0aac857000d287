from __future__ import annotations

from decimal import Decimal

import pytest

from vllm_infra.vocabulary.units import (
    format_bytes,
    format_decimal_quantity,
    format_duration,
    gib_to_bytes,
    parse_duration,
    parse_quantity,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("16Gi", Decimal(16 * 2**30)),
    ("500m", Decimal("0.5")),
    ("4", Decimal(4)),
    ("1.5Gi", Decimal(int(1.5 * 2**30))),
    ("2k", Decimal(2000)),
    ("1e3", Decimal(1000)),
])
def test_parse_quantity(text: str, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["16GB", "abc", "", "1.2.3Gi"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def test_format_bytes_uses_largest_exact_binary_suffix() -> None:
    assert format_bytes(16 * 2**30) == "16Gi"
    assert format_bytes(1536 * 2**20) == "1536Mi"
    assert format_bytes(1000) == "1000"


def test_gib_to_bytes_rounds_up_to_whole_mib() -> None:
    assert gib_to_bytes(1.0001) == 1025 * 2**20


def test_decimal_quantity() -> None:
    assert format_decimal_quantity(5) == "5"
    assert format_decimal_quantity(0.7) == "700m"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), ("45", 45), (30, 30)])
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["ten minutes", "10x", "", "-5"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(15) == "15s"
    assert format_duration(0) == "0s"
