# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared qbwrk.conf as it is read: its sections, the ownership record in its first lines,
the managed workers' sections and what they hold, and the check that no later section of
somebody else overrides a managed key. What :func:`qbwrk_owned.merge` writes is read back here;
``qbwrk_owned.py`` re-exports these names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    SECTION_RE, QbConf, parse_lines, render_value, unquote,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import (
    OS_SECTIONS, RESERVED_SECTIONS, QbwrkError, _first_number, _sort_key, expand,
)

RECORD_PREFIX = "# renderfarm.qube manages ["
RECORD_RE = re.compile(r"^# renderfarm\.qube manages \[(?P<section>.+)\]:(?P<keys>[^\]]*)$")
INTRO = ("# This file is shared. renderfarm.qube (Ansible) manages only the sections and keys listed below and\n"
         "# keeps everything else as it is; change managed keys in the inventory, not here.\n")
INTRO_LINES = frozenset(line for line in INTRO.splitlines())
OLD_HEADER = "# Managed by Ansible (renderfarm.qube.supervisor_config)"
FARM_SECTIONS = ("default",) + OS_SECTIONS
_RANGE_RE = re.compile(r"^(?P<prefix>[A-Za-z0-9_]*)\[(?P<low>\d+)-(?P<high>\d+)\](?P<suffix>[A-Za-z0-9_]*)$")
# A range larger than this is not expanded host by host (protects against a typo like [n[1-99999999]]).
MAX_RANGE = 100000


class Section(object):
    """One ``[name] : templates`` section: its header line and every body line as written."""

    def __init__(self, head, body):
        self.head = head
        self.body = body
        match = SECTION_RE.match(head.raw.rstrip("\r\n"))
        self.name = head.key
        self.templates = (match.group("templates") or "").split() if match else []

    def text(self):
        return self.head.raw + "".join(line.raw for line in self.body)

    def entries(self):
        return [line for line in self.body if line.kind == "entry"]


def split(text):
    """``(preamble lines, [Section])``: the lines before the first section, then every section.

    A section whose name appeared earlier in the file gets ``repeat = True``: only the first section
    of a name can be the managed one; a later one with the same name is somebody else's.
    """
    preamble, sections, seen = [], [], set()
    for line in parse_lines(text):
        if line.kind == "section":
            sections.append(Section(line, []))
            sections[-1].repeat = line.key in seen
            seen.add(line.key)
        elif sections:
            sections[-1].body.append(line)
        else:
            preamble.append(line)
    return preamble, sections


def read_record(preamble):
    """``({section: [managed keys]}, taken_over)`` from the file's first lines."""
    managed, old = {}, False
    for line in preamble:
        raw = line.raw.rstrip("\r\n")
        match = RECORD_RE.match(raw)
        if match:
            managed[match.group("section")] = match.group("keys").split()
        elif raw.startswith(OLD_HEADER):
            old = True
    return managed, old


def host_names(section):
    """Host names a host section names (one, or every member of a numbered range)."""
    match = _RANGE_RE.match(section)
    if not match:
        return [section]
    prefix, low, high, suffix = match.group("prefix", "low", "high", "suffix")
    if int(high) - int(low) > MAX_RANGE or int(high) < int(low):
        raise QbwrkError("[%s]: the range is too large or empty to manage" % section)
    padded = len(low) > 1 and low.startswith("0")
    width = len(low) if padded else 0
    return ["%s%0*d%s" % (prefix, width, number, suffix) for number in range(int(low), int(high) + 1)]


def _is_host_section(name, templates):
    return name not in RESERVED_SECTIONS and name not in templates


def _previous_hosts(sections, managed, template_names):
    """{host: {templates, values {key: raw text}, extra (foreign body lines)}} from managed host sections."""
    hosts = {}
    for section in sections:
        if section.repeat or section.name not in managed or not _is_host_section(section.name, template_names):
            continue
        keys = managed[section.name]
        values = dict((line.key, line.value) for line in section.entries() if line.key in keys)
        extra = tuple((line.key if line.kind == "entry" else None, line.raw) for line in section.body
                      if line.kind != "blank" and not (line.kind == "entry" and line.key in keys))
        for name in host_names(section.name):
            hosts[name] = {"templates": list(section.templates), "values": dict(values), "extra": extra}
    return hosts


def _names_host(section, host):
    try:
        return host in host_names(section)
    except QbwrkError:
        return False


def _record_order(item):
    name = item[0]
    if name == "global_config":
        rank = 0
    elif name in FARM_SECTIONS:
        rank = 1 + FARM_SECTIONS.index(name)
    else:
        rank = 1 + len(FARM_SECTIONS)
    return (rank, _sort_key(name.split("[")[0] + _first_number(name)), name)


def _template_names(section):
    """Names in ``[global_config] templates`` (FMT: templates must be declared there)."""
    if section is None:
        return []
    raw = QbConf("".join(line.raw for line in section.body)).get("templates")
    return [n.strip() for n in unquote(raw or "").split(",") if n.strip()]


def effective(text, host, os_name):
    """A worker's effective central config ``{key: raw value}`` from qbwrk.conf text (see qbwrk.expand)."""
    return expand(text, host, os_name)


def _host_values(host):
    """A worker's own central values as text: ``settings`` (Python values) or ``values`` (raw text,
    as :func:`sections_of` returns them, to put a worker back exactly as it was)."""
    if "values" in host and "settings" not in host:
        return dict((key, str(value)) for key, value in (host.get("values") or {}).items())
    return dict((key, render_value(key, value)) for key, value in (host.get("settings") or {}).items())


def sections_of(text):
    """{worker: {templates, values}} of the managed worker sections of ``text`` (raw values)."""
    preamble, sections = split(text or "")
    managed = read_record(preamble)[0]
    templates = set(_template_names(dict((s.name, s) for s in sections).get("global_config")))
    return dict((name, {"templates": entry["templates"], "values": entry["values"]})
                for name, entry in _previous_hosts(sections, managed, templates).items())


def written_whole(text):
    """``text`` is a file an earlier release wrote whole (it is taken over on the next merge)."""
    return read_record(split(text or "")[0])[1]


def changed_back(before_text, after_text, host, os_name):
    """``{key: raw value}`` of the worker's effective central keys that differ between the two texts,
    as ``after_text`` gives them (a key ``after_text`` leaves unset is not listed)."""
    before, after = expand(before_text, host, os_name), expand(after_text, host, os_name)
    return dict((key, value) for key, value in after.items() if before.get(key) != value)


def managed_sections(text):
    """The sections the ownership record of ``text`` names."""
    return sorted(read_record(split(text or "")[0])[0], key=lambda name: _record_order((name, None)))


def check(text, hosts, templates=None, farm_wide=None):
    """Problems where a worker handed in would not get the settings it is given: another section
    (somebody else's, later in the file) overrides a managed key. ``[]`` when all agree."""
    parsed = [(section.name, section.templates, dict((line.key, line.value) for line in section.entries()))
              for section in split(text)[1]]
    problems = []
    templates = templates or {}
    for name, host in sorted(hosts.items()):
        want = {}
        for section in ("default", host.get("os")):
            want.update((farm_wide or {}).get(section) or {})
        for template in host.get("templates") or []:
            want.update(templates.get(template) or {})
        want = dict((key, render_value(key, value)) for key, value in want.items())
        want.update(_host_values(host))
        got = expand(parsed, name, host.get("os"))
        for key in sorted(want):
            rendered = want[key]
            if got.get(key) != rendered:
                owner = [sec for sec, _inh, values in parsed if key in values and sec not in RESERVED_SECTIONS
                         and _names_host(sec, name)]
                problems.append("%s: %s would be %s instead of the inventory's value%s" % (
                    name, key, "unset" if got.get(key) is None else "another value",
                    " (section [%s] sets it later in the file)" % owner[-1] if owner else ""))
    return problems
