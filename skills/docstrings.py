"""Parse Google-style docstrings into a one-line purpose and per-parameter descriptions."""

from __future__ import annotations

import inspect
import re

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_PARAM = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, str, dict[str, str]]:
    """Return ``(summary, body, params)`` of a docstring.

    ``summary`` is the first paragraph joined into one line, ``body`` the free text before any section,
    and ``params`` maps each parameter named in an ``Args:`` section to its (joined) description.
    """
    text = inspect.cleandoc(doc or "")
    if not text:
        return "", "", {}
    lines = text.splitlines()
    params: dict[str, str] = {}
    body: list[str] = []
    section: str | None = None
    current: str | None = None
    param_indent: int | None = None
    for line in lines:
        match = _SECTION.match(line)
        if match:
            section = match.group(1).lower()
            current, param_indent = None, None
            continue
        if section is None:
            body.append(line)
        elif section in ("args", "arguments", "parameters") and line.strip():
            indent = len(line) - len(line.lstrip())
            pmatch = _PARAM.match(line)
            if pmatch and (param_indent is None or indent <= param_indent):
                param_indent = indent
                current = pmatch.group(1).lstrip("*")
                params[current] = pmatch.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
    paragraphs = "\n".join(body).strip().split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    return summary, "\n".join(body).strip(), params
