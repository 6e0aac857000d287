"""Gateway API facts shared by the spec and the rules: when two HTTPRoutes compete for the same
requests. Between routes whose hostnames intersect, the route with the most specific matching
hostname takes the request (https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec: "the
largest number of characters in a matching non-wildcard hostname", then "in a matching
hostname"); only between equally specific matches does the oldest route win, then the
alphabetically first, and the other is silently unused."""

from __future__ import annotations

from collections.abc import Sequence


def hostnames_compete(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether two routes' matches are equally specific for some request: both without hostnames
    (every hostname), or both naming one hostname (exact or the same wildcard). A route with a
    hostname wins that host over a route without one, and an exact hostname over a wildcard."""
    if not first or not second:
        return not first and not second
    return bool(set(first) & set(second))
