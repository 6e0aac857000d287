"""What a credential looks like, so the spec, the renderer's guards and the rules recognise the
same ones."""

from __future__ import annotations

import math
import re
from functools import lru_cache

SECRET_ENV_NAME = re.compile(r"(^HF_TOKEN$|^HUGGING_FACE_HUB_TOKEN$|^VLLM_API_KEY$|_TOKEN$|_SECRET$|_API_KEY$|"
                             r"_PASSWORD$)")
"""Environment variable names whose value is a credential (VI-SEC-010)."""


SECRET_FLAG = re.compile(r"(^|-)(token|secret|password|passwd|api-key|apikey|access-key|key|pat|credentials?)$")
"""Flags and lower-cased, dash-separated env names that end in a credential word, so their value is
one (``--api-key``, ``--hf-token``, ``--ssl-keyfile-password``, ``aws-secret-access-key``,
``openai-key``, ``github-pat``); ``HF_TOKEN_PATH`` names a file and is not one."""


def is_secret_flag(name: str) -> bool:
    """Whether a flag (without ``--``) or lower-cased, dash-separated name carries a credential."""
    return SECRET_FLAG.search(name) is not None


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable of this name holds a credential."""
    return SECRET_ENV_NAME.search(name) is not None


_TOKEN_SHAPES = (r"hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|"
                 r"AKIA[0-9A-Z]{16}|xox[abp]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
CREDENTIAL_VALUE = re.compile(rf"(?<![A-Za-z0-9])(?:{_TOKEN_SHAPES})")
"""Token shapes of the usual providers (Hugging Face, OpenAI, GitHub, AWS, Slack, JWTs)."""
_HIGH_ENTROPY = re.compile(r"[A-Za-z0-9+=_-]{32,}")  # not "/": paths are not keys
_SECRET_FIELD = re.compile(r"(token|secret|password|passwd|api[_-]?key|credential|auth)", re.IGNORECASE)
REDACTED = "<redacted>"


_SEGMENT = re.compile(r"[-_.=]")
MIN_KEY_SEGMENT = 20
"""A key is one long random run; model ids and image tags are short words joined by ``-``/``_``
(``Qwen3-Coder-480B-A35B-Instruct-FP8``: nine segments, none over eight characters)."""
MIN_KEY_ENTROPY_BITS = 3.5
"""Shannon entropy per character of a random base62 run is near 5.9 bits; words and repeated
characters stay well under this."""


def _entropy(text: str) -> float:
    counts = [text.count(char) for char in set(text)]
    return -sum(count / len(text) * math.log2(count / len(text)) for count in counts)


def _high_entropy(run: str) -> bool:
    """A key, not words: a segment (between ``-``, ``_``, ``.``, ``=``) of 20+ characters that
    mixes lower case, upper case and digits with a random string's entropy. Commit hashes and
    sha256 digests are lower-case hex and stay; model ids and image tags are short segments."""
    longest = max(_SEGMENT.split(run), key=len)
    mixed = all(re.search(pattern, longest) for pattern in ("[a-z]", "[A-Z]", "[0-9]"))
    return len(longest) >= MIN_KEY_SEGMENT and mixed and _entropy(longest) >= MIN_KEY_ENTROPY_BITS


@lru_cache(maxsize=65536)
def looks_like_credential(value: str) -> bool:
    """A provider token shape, or a long run of mixed letters and digits (memoised: a fleet repeats
    the same arguments and values thousands of times)."""
    return bool(CREDENTIAL_VALUE.search(value)) or any(_high_entropy(run) for run in _HIGH_ENTROPY.findall(value))


def redacted(value: str, field: str = "") -> str:
    """``value`` fit for a log: hidden when the field holds secrets or the value looks like one."""
    return REDACTED if _SECRET_FIELD.search(field) or looks_like_credential(value) else value


_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@'\"]+@", re.IGNORECASE)


def scrub(text: str) -> str:
    """``text`` (an error message, a log line) with every credential-looking run replaced, URL
    passwords included."""
    text = _URL_USERINFO.sub(r"\1***@", CREDENTIAL_VALUE.sub(REDACTED, text))
    return _HIGH_ENTROPY.sub(lambda match: REDACTED if _high_entropy(match.group(0)) else match.group(0), text)
