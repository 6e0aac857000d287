"""Kubernetes quantities and human durations, parsed once so that specs and rules agree on arithmetic."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
            "P": Decimal(10**15), "E": Decimal(10**18)}
MIB_BYTES = 2**20
GIB_BYTES = 2**30

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_quantity(value: str | int | float) -> Decimal:
    """Return the numeric value of a Kubernetes quantity ("16Gi" -> 17179869184, "500m" -> 0.5)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 16Gi, 500m, 4)")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from exc
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    return base * _DECIMAL[suffix]


def format_bytes(amount: int) -> str:
    """Format bytes with the largest binary suffix that divides evenly ("17179869184" -> "16Gi")."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if amount and amount % _BINARY[suffix] == 0:
            return f"{amount // _BINARY[suffix]}{suffix}"
    return str(amount)


def gib_to_bytes(gib: float) -> int:
    """Round GiB up to a whole MiB, so derived sizes render as clean quantities."""
    return math.ceil(gib * 1024) * _BINARY["Mi"]


def format_decimal_quantity(value: float) -> str:
    """Format a metric target as a quantity: 5 -> "5", 0.7 -> "700m"."""
    if value == int(value):
        return str(int(value))
    milli = round(value * 1000)
    return f"{milli}m"


def parse_duration(value: str | int) -> int:
    """Return seconds for "90s", "10m", "1h30m" or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text)
    if not text or not match:
        raise ValueError(f"{value!r} is not a duration (examples: 90s, 10m, 1h30m)")
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: int) -> str:
    """Format seconds the way users write them: 5400 -> "1h30m", 90 -> "1m30s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


def format_gib(amount: float) -> str:
    """Bytes as ``1.5 GiB``, as messages show sizes."""
    return f"{amount / GIB_BYTES:.1f} GiB"
