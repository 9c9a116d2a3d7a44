"""Line syntax shared by qb.conf and qbwrk.conf (STAND-IN for Qube!).

One ``key = value`` per line; ``#`` starts a comment outside double quotes; a value
wrapped in double quotes loses its quotes; ``key = {`` opens a multi-line map that ends
at a line holding only ``}``. Errors carry the 1-based line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEY_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")


class ConfigSyntaxError(ValueError):
    """A configuration file error pointing at ``path:line``."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass
class Entry:
    """One key with its value and the line it was defined on."""

    key: str
    value: str
    line: int


def strip_comment(text: str) -> str:
    """Remove a ``#`` comment that is outside double quotes."""
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return text[:index]
    return text


def unquote(value: str) -> str:
    """Strip surrounding whitespace and one pair of surrounding double quotes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def check_drive_map(path: str, first: int, raw_lines: list[str]) -> None:
    """Enforce the documented strict ``worker_drive_map`` layout.

    ``{`` on the ``=`` line with the first mapping right after it, one mapping per
    line without leading spaces, no blank lines, ``}`` alone on the last line.
    """
    head = raw_lines[0].split("=", 1)[1].strip()
    if not head.startswith("{") or len(head) == 1:
        raise ConfigSyntaxError(path, first, "worker_drive_map: first mapping must follow '{' on the same line")
    for offset, text in enumerate(raw_lines[1:-1], start=1):
        if not text.strip():
            raise ConfigSyntaxError(path, first + offset, "worker_drive_map: blank line inside the map")
        if text[:1].isspace():
            raise ConfigSyntaxError(path, first + offset, "worker_drive_map: mapping must not start with spaces")
    mappings = [head[1:]] + raw_lines[1:-1]
    for offset, mapping in enumerate(mappings):
        if "|" not in mapping or not re.match(r"^[A-Za-z]:\|", mapping.strip()):
            raise ConfigSyntaxError(path, first + offset, f"worker_drive_map: expected 'X:|\\\\SERVER\\SHARE', got {mapping.strip()!r}")
    if raw_lines[-1] != "}":
        raise ConfigSyntaxError(path, first + len(raw_lines) - 1, "worker_drive_map: '}' must be alone on its line")


def read_value(path: str, lines: list[str], index: int, key: str, rest: str) -> tuple[str, int]:
    """Read the value starting at ``lines[index]``; return it and the next line index."""
    stripped = strip_comment(rest).strip()
    if not stripped.startswith("{") or stripped.endswith("}"):
        return unquote(stripped), index + 1
    raw = [lines[index].rstrip("\n")]
    cursor = index + 1
    while cursor < len(lines):
        text = lines[cursor].rstrip("\n")
        raw.append(text)
        if text.strip() == "}":
            break
        cursor += 1
    else:
        raise ConfigSyntaxError(path, index + 1, f"unterminated '{{' for key {key!r}")
    if key == "worker_drive_map":
        raw[-1] = raw[-1].rstrip()
        check_drive_map(path, index + 1, raw)
    body = [strip_comment(text).rstrip() for text in raw[1:-1]]
    value = "\n".join([stripped] + body + ["}"])
    return value, cursor + 1


def parse_lines(path: str, text: str) -> list[tuple[str, object]]:
    """Split ``text`` into ``("entry", Entry)`` and ``("header", (line, text))`` items."""
    lines = text.splitlines()
    items: list[tuple[str, object]] = []
    index = 0
    while index < len(lines):
        raw = lines[index]
        body = strip_comment(raw).strip()
        if not body:
            index += 1
            continue
        if body.startswith("["):
            items.append(("header", (index + 1, body)))
            index += 1
            continue
        match = KEY_RE.match(body)
        if not match:
            raise ConfigSyntaxError(path, index + 1, f"expected 'key = value', got {body!r}")
        key = match.group(1)
        rest = raw.split("=", 1)[1]
        value, next_index = read_value(path, lines, index, key, rest)
        items.append(("entry", Entry(key, value, index + 1)))
        index = next_index
    return items


def parse_flat(path: str, text: str) -> dict[str, str]:
    """Parse a qb.conf (no sections); later keys win."""
    result: dict[str, str] = {}
    for kind, item in parse_lines(path, text):
        if kind == "header":
            raise ConfigSyntaxError(path, item[0], "qb.conf has no [sections]")
        result[item.key] = item.value
    return result


def format_value(value: str) -> str:
    """Render a value for ``key = value`` output (quoted only when it must be)."""
    if "\n" in value or value.startswith("{"):
        return value
    if "#" in value or value != value.strip():
        return f'"{value}"'
    return value
