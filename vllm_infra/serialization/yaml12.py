"""Stack files read fast, as YAML 1.2: exactly what ruamel.yaml's safe loader returns, or nothing.

Stack files are Pulumi configuration, read as YAML 1.2 (``yes`` and ``on`` are strings, ``0644``
is 644; no Kubernetes YAML 1.1 rules). ruamel.yaml defines that reading here, and it reports
errors with lines, but constructing Python objects is its slow part (4 s for a 7,400-service
stack). ``read`` takes rapidyaml's JSON instead whenever no scalar can read differently: a quoted
JSON string that ruamel.yaml would resolve to something else if it were plain (``True``, ``~``,
``1_000``, ``2024-01-01``, ``0o17``; keys included, which JSON always quotes), a number rapidyaml
rewrote (``.5e3``, a string to ruamel.yaml, comes out as ``0.5e3``), a duplicate key. Then it
returns None and the caller reads the text with ruamel.yaml. ``tests/test_yaml12.py`` compares the
two on generated documents.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ruamel.yaml.resolver import implicit_resolvers

from vllm_infra.serialization.rapid import NotFast, json_documents

_NOT_STRINGS = [regexp.pattern.removeprefix("^").removesuffix("$") for versions, tag, regexp, _ in implicit_resolvers
                if (1, 2) in versions and tag != "tag:yaml.org,2002:str"]
_GATE = re.compile('"(?:' + "|".join(f"(?:{pattern})" for pattern in _NOT_STRINGS) + ')"', re.VERBOSE)
"""A JSON string whose text, as a plain YAML 1.2 scalar, ruamel.yaml resolves to a non-string
(built from ruamel.yaml's own resolver patterns, so the two cannot drift apart)."""
_REWRITTEN_NUMBER = re.compile(r"(?:^|[\s\[{,])[-+]?\.[0-9]")
"""A plain scalar starting ``.5``: rapidyaml writes it as ``0.5`` whatever ruamel.yaml makes of it."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise NotFast  # ruamel.yaml refuses duplicate keys, with their line
    return value


def _constant(name: str) -> Any:
    raise NotFast  # NaN and Infinity are JSON extensions, never YAML


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def read(text: str) -> Any | None:
    """The single document of ``text`` as ruamel.yaml's safe loader reads it, or None when only
    ruamel.yaml itself can say (the caller then loads the text with it)."""
    if _REWRITTEN_NUMBER.search(text):
        return None
    try:
        documents = json_documents(text)
        if len(documents) != 1 or _GATE.search(documents[0]):
            return None
        return _DECODER.decode(documents[0])
    except (NotFast, ValueError):
        return None
