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
:func:`decode_value` reads them back. The values live in ``qbconf_values.py``; every name of it
is importable from here too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Re-exported: the value functions are imported from qbconf by every other plugin.
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf_values import (  # noqa: F401 pylint: disable=unused-import
    DRIVE_MAP_KEYS, MAP_KEYS, PATH_MAP_KEYS, QbConfError, decode_value, parse_drive_map, parse_path_map, quote,
    render_assignment, render_drive_map, render_path_map, render_value, unquote, values_equal,
)

REDACTED = "REDACTED"

_ENTRY_RE = re.compile(r"^(?P<head>[ \t]*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*)(?P<rest>.*)$")
SECTION_RE = re.compile(r"^[ \t]*\[(?P<name>.+)\][ \t]*(?::[ \t]*(?P<templates>[^#]*))?(?:#.*)?$")
_COMMENTED_ENTRY_RE = re.compile(r"^(?P<head>[ \t]*#+[ \t]*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*)(?P<rest>.*)$")


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
