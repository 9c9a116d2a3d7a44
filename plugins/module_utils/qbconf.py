# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Qube! ``key = value`` configuration format (qb.conf, and the lines inside qbwrk.conf).

:class:`QbConf` keeps every line of a file (comments, blank lines, commented defaults, inline
``# comment`` after a value, ``[section]`` headers, multi-line ``{ }`` maps), so that
``QbConf(text).text() == text`` and :meth:`QbConf.set` / :meth:`QbConf.remove` change only the
lines of the key they touch.

Python values become Qube! text with :func:`render_value`: ints, strings (double-quoted when they
hold spaces, commas, ``#`` or ``=``), lists (comma lists), dicts (``k=v`` comma lists), and the two
documented maps: ``worker_drive_map``/``client_drive_map`` in the vendor's strict layout
(``{`` on the ``=`` line, first mapping right after it, one mapping per line, no leading spaces,
``}`` alone) and ``worker_path_map`` (``"A" = "B"`` lines, backslashes escaped, order kept).
:func:`decode_value` reads them back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DRIVE_MAP_KEYS = frozenset(("worker_drive_map", "client_drive_map"))
PATH_MAP_KEYS = frozenset(("worker_path_map",))
MAP_KEYS = DRIVE_MAP_KEYS | PATH_MAP_KEYS
REDACTED = "REDACTED"

_ENTRY_RE = re.compile(r"^(?P<head>[ \t]*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*)(?P<rest>.*)$")
SECTION_RE = re.compile(r"^[ \t]*\[(?P<name>.+)\][ \t]*(?::[ \t]*(?P<templates>[^#]*))?(?:#.*)?$")
_COMMENTED_ENTRY_RE = re.compile(r"^(?P<head>[ \t]*#+[ \t]*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*)(?P<rest>.*)$")
_DRIVE_RE = re.compile(r"^(?P<drive>[A-Za-z]:)\|(?:(?P<user>[^:@|]+):(?P<hash>[^@]+)@)?(?P<path>.+)$")
_PATH_PAIR_RE = re.compile(r'^\s*"(?P<src>(?:[^"\\]|\\.)*)"\s*[=:]\s*"(?P<dst>(?:[^"\\]|\\.)*)"\s*,?\s*$')
_NEEDS_QUOTES_RE = re.compile(r"[\s,#=']|^\{|^$")


class QbConfError(ValueError):
    """A file or a value that cannot be expressed in the Qube! format."""


class Line(object):
    """One logical line: ``kind`` is entry, comment, blank, section or other.

    An entry keeps ``head`` (indent, key, ``=`` and spacing as written), ``value`` (the raw value
    text; for a map the whole ``{ ... }`` block) and ``tail`` (spacing and inline comment), so an
    untouched line renders back exactly.  ``eol`` is the line ending (may be empty at end of file).
    """

    __slots__ = ("kind", "raw", "key", "head", "value", "tail", "eol", "lineno")

    def __init__(self, kind, raw, lineno, key=None, head="", value="", tail="", eol=""):
        self.kind = kind
        self.raw = raw
        self.lineno = lineno
        self.key = key
        self.head = head
        self.value = value
        self.tail = tail
        self.eol = eol

    def __repr__(self):
        return "Line(%s, %r)" % (self.kind, self.raw)


def split_comment(rest):
    """Split ``value  # comment`` at the first ``#`` outside double quotes -> (value, tail)."""
    in_quotes = False
    for index, char in enumerate(rest):
        if char == '"':
            in_quotes = not in_quotes
        elif char == "#" and not in_quotes:
            value = rest[:index].rstrip(" \t")
            return value, rest[len(value):]
    value = rest.rstrip(" \t")
    return value, rest[len(value):]


def _split_eol(raw):
    if raw.endswith("\r\n"):
        return raw[:-2], "\r\n"
    if raw.endswith("\n"):
        return raw[:-1], "\n"
    return raw, ""


def parse_lines(text):
    """Parse ``text`` into a list of :class:`Line`; ``"".join(l.raw ...) == text`` always holds."""
    physical = text.splitlines(True)
    lines = []
    index = 0
    while index < len(physical):
        raw = physical[index]
        body, eol = _split_eol(raw)
        lineno = index + 1
        index += 1
        stripped = body.strip()
        match = _ENTRY_RE.match(body)
        if not stripped:
            lines.append(Line("blank", raw, lineno, eol=eol))
        elif stripped.startswith("#"):
            lines.append(Line("comment", raw, lineno, eol=eol))
        elif match:
            value, tail = split_comment(match.group("rest"))
            if value.startswith("{") and "}" not in value:
                block = [value + tail + eol]
                while True:
                    if index >= len(physical):
                        raise QbConfError("line %d: the { map of %s is not closed by a line with }"
                                          % (lineno, match.group("key")))
                    nxt = physical[index]
                    index += 1
                    nbody, neol = _split_eol(nxt)
                    if nbody.strip().startswith("}"):
                        block.append(nbody)
                        eol = neol
                        break
                    block.append(nxt)
                value, tail = "".join(block), ""
            lines.append(Line("entry", raw if value.count("\n") == 0 else match.group("head") + value + eol,
                              lineno, key=match.group("key"), head=match.group("head"),
                              value=value, tail=tail, eol=eol))
        elif SECTION_RE.match(body):
            lines.append(Line("section", raw, lineno, key=SECTION_RE.match(body).group("name").strip(),
                              eol=eol))
        else:
            lines.append(Line("other", raw, lineno, eol=eol))
    return lines


class QbConf(object):
    """A qb.conf file as a list of lines, editable key by key."""

    def __init__(self, text=""):
        self.lines = parse_lines(text)

    def text(self):
        """The file text: identical to the input when nothing was changed."""
        return "".join(line.raw for line in self.lines)

    def _entries(self, key):
        return [line for line in self.lines if line.kind == "entry" and line.key == key]

    def has_sections(self):
        """True when the text holds ``[section]`` headers (a qbwrk.conf, not a qb.conf)."""
        return any(line.kind == "section" for line in self.lines)

    def keys(self):
        """Active keys in first-seen order."""
        seen = []
        for line in self.lines:
            if line.kind == "entry" and line.key not in seen:
                seen.append(line.key)
        return seen

    def get(self, key, default=None):
        """Raw value text of the last active ``key`` line (quotes kept), or ``default``."""
        entries = self._entries(key)
        return entries[-1].value if entries else default

    def get_value(self, key, default=None):
        """The decoded value of ``key`` (see :func:`decode_value`), or ``default``."""
        raw = self.get(key)
        return default if raw is None else decode_value(key, raw)

    def _newline(self):
        for line in self.lines:
            if line.eol:
                return line.eol
        return "\n"

    def set(self, key, value):
        """Set ``key`` to ``value`` (Python value or pre-rendered text via :class:`Raw`).

        Every active line of the key gets the new value in place (its inline comment is kept for
        single-line values); a key not present is appended at the end.  Returns True when the
        text changed.
        """
        rendered = value.text if isinstance(value, Raw) else render_value(key, value)
        before = self.text()
        entries = self._entries(key)
        multiline = "\n" in rendered
        if entries:
            for line in entries:
                tail = "" if multiline or "\n" in line.value else line.tail
                line.value, line.tail = rendered, tail
                line.raw = line.head + rendered.replace("\n", line.eol or "\n") + tail + line.eol
        else:
            newline = self._newline()
            if self.lines and not self.lines[-1].raw.endswith(("\n", "\r")):
                self.lines[-1].raw += newline
                self.lines[-1].eol = newline
            head = "%s = " % key
            raw = head + rendered.replace("\n", newline) + newline
            self.lines.append(Line("entry", raw, len(self.lines) + 1, key=key, head=head,
                                   value=rendered, eol=newline))
        return self.text() != before

    def remove(self, key):
        """Drop every active line (and map block) of ``key``; True when something was removed."""
        kept = [line for line in self.lines if not (line.kind == "entry" and line.key == key)]
        changed = len(kept) != len(self.lines)
        self.lines = kept
        return changed

    def edit_list(self, key, present=(), absent=(), default=None):
        """Add ``present`` and drop ``absent`` items of the comma list ``key``, keeping every other item.

        Item order and any item the caller did not name stay as they are (a site's own flags are
        never lost). When the key is not set, ``default`` (the vendor's default list, or None when
        unset means empty) is the starting list, so adding one flag does not drop the built-in
        ones. A number (``supervisor_flags`` may be an integer mask) cannot be edited item by item:
        :class:`QbConfError`. Returns True when the text changed; a key whose result equals
        ``default`` and that was not set stays unset.
        """
        raw = self.get(key)
        if raw is None:
            items = list(default or [])
        else:
            text = unquote(raw)
            if re.match(r"^\s*\d+\s*$", text):
                raise QbConfError("%s is the number %s (an integer mask); its items cannot be changed one by one. "
                                  "Write it as a comma-separated list of names" % (key, text.strip()))
            items = [item.strip() for item in text.split(",") if item.strip()]
        wanted = [item for item in items if item not in absent]
        wanted += [item for item in present if item not in wanted]
        if wanted == items:
            return False
        if raw is None and not wanted:
            return False
        return self.set(key, wanted)

    def remove_value(self, key, value):
        """Drop the active lines of ``key`` whose value means ``value``; True when one was removed."""
        rendered = render_value(key, value)
        kept = [line for line in self.lines
                if not (line.kind == "entry" and line.key == key and values_equal(key, line.value, rendered))]
        changed = len(kept) != len(self.lines)
        self.lines = kept
        return changed


class Raw(object):
    """Value text that :meth:`QbConf.set` writes as given (already rendered)."""

    def __init__(self, text):
        self.text = text


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


_CREDENTIAL_RE = re.compile(r"(\|[^:@|\s]+:)[^@\s]+@")


def redact(text, secret_keys):
    """``text`` with the values of ``secret_keys`` (active or commented out) and drive-map
    credentials replaced by ``REDACTED``; every other character unchanged."""
    secret_keys = frozenset(secret_keys)
    out = []
    for line in parse_lines(text):
        if line.kind == "entry" and line.key in secret_keys:
            out.append(line.head + REDACTED + line.tail + line.eol)
        elif line.kind == "entry" and line.key in DRIVE_MAP_KEYS:
            out.append(_CREDENTIAL_RE.sub(r"\1" + REDACTED + "@", line.raw))
        elif line.kind == "comment":
            match = _COMMENTED_ENTRY_RE.match(line.raw.rstrip("\r\n"))
            if match and match.group("key") in secret_keys:
                out.append(match.group("head") + REDACTED + line.eol)
            else:
                out.append(_CREDENTIAL_RE.sub(r"\1" + REDACTED + "@", line.raw))
        else:
            out.append(line.raw)
    return "".join(out)
