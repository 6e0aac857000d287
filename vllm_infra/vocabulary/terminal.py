"""Text that reaches a terminal or a CI log: control characters from user input (an unknown key,
an object name) are shown escaped, never executed as terminal escapes."""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with C0/C1 control characters (but newlines and tabs) as ``\\xNN``."""
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text) if _CONTROLS.search(text) else text
