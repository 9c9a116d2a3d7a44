# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values of the Qube! ``key = value`` format: Python values to value text and back.

:func:`render_value` turns ints, strings (double-quoted when needed), lists, dicts and the two
documented maps (drive map, path map) into value text; :func:`decode_value` and
:func:`values_equal` read it back. The line model that keeps a file's every byte is ``qbconf.py``,
which re-exports these names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DRIVE_MAP_KEYS = frozenset(("worker_drive_map", "client_drive_map"))
PATH_MAP_KEYS = frozenset(("worker_path_map",))
MAP_KEYS = DRIVE_MAP_KEYS | PATH_MAP_KEYS
_DRIVE_RE = re.compile(r"^(?P<drive>[A-Za-z]:)\|(?:(?P<user>[^:@|]+):(?P<hash>[^@]+)@)?(?P<path>.+)$")
_PATH_PAIR_RE = re.compile(r'^\s*"(?P<src>(?:[^"\\]|\\.)*)"\s*[=:]\s*"(?P<dst>(?:[^"\\]|\\.)*)"\s*,?\s*$')
_NEEDS_QUOTES_RE = re.compile(r"[\s,#=']|^\{|^$")


class QbConfError(ValueError):
    """A file or a value that cannot be expressed in the Qube! format."""


def quote(text):
    """Double-quote ``text`` when the Qube! parser would otherwise split or misread it."""
    if '"' in text or "\n" in text or "\r" in text:
        raise QbConfError("value %r contains a double quote or a line break, which the Qube! format "
                          "cannot hold" % text)
    return '"%s"' % text if _NEEDS_QUOTES_RE.search(text) else text


def unquote(raw):
    """Value text without surrounding double quotes."""
    raw = raw.strip()
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    return raw


def _scalar(key, value):
    if isinstance(value, bool):
        raise QbConfError("%s: Qube! has no boolean values; give the literal text the key expects "
                          "(for example \"1\" or \"0\")" % key)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise QbConfError("%s: cannot write a %s as a Qube! value" % (key, type(value).__name__))


def render_value(key, value):
    """Render a Python value as the value text of ``key`` (may span lines for maps)."""
    if key in DRIVE_MAP_KEYS:
        return render_drive_map(value)
    if key in PATH_MAP_KEYS:
        return render_path_map(value)
    if isinstance(value, (list, tuple)):
        items = [_scalar(key, item) for item in value]
        for item in items:
            if "," in item:
                raise QbConfError("%s: list item %r contains a comma, which separates items" % (key, item))
        return quote(",".join(items))
    if isinstance(value, dict):
        pairs = ["%s=%s" % (k, _scalar(key, v)) for k, v in value.items()]
        return quote(",".join(pairs))
    return quote(_scalar(key, value))


def render_assignment(key, value):
    """``key = value`` text (no trailing newline) for a Python value."""
    return "%s = %s" % (key, render_value(key, value))


def _drive_entries(value):
    if isinstance(value, dict):
        return [{"drive": drive, "path": path} for drive, path in value.items()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise QbConfError("a drive map must be a dict {drive: path} or a list of {drive, path, user, password_hash}")


def render_drive_map(value):
    """``{X:|\\\\SERVER\\SHARE`` ... ``}`` in the strict documented layout."""
    rendered = []
    for number, entry in enumerate(_drive_entries(value), 1):
        if not isinstance(entry, dict) or "drive" not in entry or "path" not in entry:
            raise QbConfError("drive map entry %d needs drive and path" % number)
        drive, path = str(entry["drive"]), str(entry["path"])
        if not re.match(r"^[A-Za-z]:$", drive):
            raise QbConfError("drive map: drive %r is not a drive letter like X:" % drive)
        if not re.match(r"^(\\\\|//)[^\\/\s]+[\\/][^\s|]+", path) or "\n" in path:
            raise QbConfError("drive map %s: path %r is not a UNC path like \\\\SERVER\\SHARE" % (drive, path))
        user, secret = entry.get("user"), entry.get("password_hash")
        if bool(user) != bool(secret):
            raise QbConfError("drive map %s: give both user and password_hash, or neither" % drive)
        if user and re.search(r"[:@|\s]", str(user) + str(secret)):
            raise QbConfError("drive map %s: user and password_hash may not contain ':', '@', '|' or spaces" % drive)
        credentials = "%s:%s@" % (user, secret) if user else ""
        rendered.append("%s|%s%s" % (drive.upper(), credentials, path))
    return "{" + "\n".join(rendered) + "\n}"


def _path_pairs(value):
    if isinstance(value, dict):
        return list(value.items())
    pairs = []
    for item in value:
        if isinstance(item, dict) and "from" in item and "to" in item:
            pairs.append((item["from"], item["to"]))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append((item[0], item[1]))
        else:
            raise QbConfError("path map entry %r must be {from, to} or a [from, to] pair" % (item,))
    return pairs


def _escape(text):
    if '"' in text or "\n" in text:
        raise QbConfError("path map value %r contains a double quote or a line break" % text)
    return text.replace("\\", "\\\\")


def render_path_map(value):
    """``{`` / ``"A" = "B"`` per line, backslashes escaped, order kept / ``}``."""
    lines = ['"%s" = "%s"' % (_escape(str(src)), _escape(str(dst))) for src, dst in _path_pairs(value)]
    return "{\n" + "".join(line + "\n" for line in lines) + "}"


def _map_body(raw):
    body = raw.strip()
    if body.startswith("{"):
        body = body[1:]
    body = body.rstrip()
    if body.endswith("}"):
        body = body[:-1]
    return [line.strip() for line in body.splitlines() if line.strip()]


def parse_drive_map(raw):
    """Drive map text -> list of {drive, path[, user, password_hash]} in file order."""
    entries = []
    for line in _map_body(raw):
        match = _DRIVE_RE.match(line)
        if not match:
            raise QbConfError("drive map line %r is not X:|\\\\SERVER\\SHARE" % line)
        entry = {"drive": match.group("drive"), "path": match.group("path").strip()}
        if match.group("user"):
            entry["user"], entry["password_hash"] = match.group("user"), match.group("hash")
        entries.append(entry)
    return entries


def parse_path_map(raw):
    """Path map text (``"A" = "B"`` or ``"A" : "B"``, optional trailing comma) -> [(A, B), ...]."""
    pairs = []
    for line in _map_body(raw):
        match = _PATH_PAIR_RE.match(line)
        if not match:
            raise QbConfError('path map line %r is not "A" = "B"' % line)
        pairs.append(tuple(re.sub(r"\\(.)", r"\1", match.group(name)) for name in ("src", "dst")))
    return pairs


def decode_value(key, raw):
    """Raw value text -> Python: map structure for map keys, otherwise the unquoted string."""
    if key in DRIVE_MAP_KEYS:
        return parse_drive_map(raw)
    if key in PATH_MAP_KEYS:
        return parse_path_map(raw)
    return unquote(raw)


def values_equal(key, raw_a, raw_b):
    """True when two value texts mean the same (quoting and map layout ignored)."""
    if raw_a is None or raw_b is None:
        return raw_a is raw_b
    try:
        return decode_value(key, raw_a) == decode_value(key, raw_b)
    except QbConfError:
        return raw_a.strip() == raw_b.strip()
