"""Gateway API facts shared by the spec and the rules: when two HTTPRoutes compete for the same
requests (https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule: between equally specific
matches the oldest route wins, then the alphabetically first, so the other is silently unused)."""

from __future__ import annotations

from collections.abc import Sequence


def _overlap(first: str, second: str) -> bool:
    if first == second:
        return True
    for wildcard, other in ((first, second), (second, first)):
        if wildcard.startswith("*."):
            suffix = wildcard[1:]  # '.example.com': a wildcard matches one or more labels before it
            if other.endswith(suffix) and len(other) > len(suffix) and not other.startswith("*."):
                return True
            if other.startswith("*.") and (other.endswith(suffix) or wildcard.endswith(other[1:])):
                return True
    return False


def hostnames_overlap(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether two routes' hostnames admit a common request (no hostnames: every hostname)."""
    return not first or not second or any(_overlap(a, b) for a in first for b in second)
