# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qbwrk.conf as a file shared with people and QubeUI: merge only what inventory declares.

The supervisor's central worker configuration is also edited by QubeUI and by administrators and
holds sections for workers Ansible does not manage (CWC centralized-worker-configuration.mdx).
:func:`merge` therefore changes only what this collection owns and keeps everything else (other
sections, comments, keys added by hand, their order) byte for byte:

* the sections of the workers handed in (``hosts``: this run's workers, with their templates and
  their own central settings), written as host sections, consecutive names with equal content as
  one range section (``[render[001-040]] : gpu``); a worker with nothing of its own gets no section
  unless the supervisor's host policy is restricted (CPR supervisor_host_policy.md), then every
  managed worker is named on its own;
* the template sections those workers use, and their names in ``[global_config] templates``;
* the keys of ``[default]``/``[linux]``/``[osx]``/``[winnt]`` that the administrator declares
  farm-wide (``farm_wide``): nothing is hoisted into ``[default]`` because it happens to be common,
  since ``[default]`` reaches every worker, the unmanaged ones included.

What is owned is written in the file's first lines (``# renderfarm.qube manages [section]: keys``),
so the next run, a person or QubeUI can see it. Workers managed earlier but not handed in now (other
batches, other slices, hosts outside ``--limit``) keep their sections as they are. A key added by
hand inside a managed section is kept after the managed ones. A file written whole by an earlier
release of this collection (its header says so) is taken over: every worker in ``known_hosts``
keeps the central configuration it had (the values hoisted into ``[default]``/OS sections move into
its own section), so nothing is lost and the next run changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    SECTION_RE, QbConf, Raw, parse_lines, render_value, unquote,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import (
    OS_SECTIONS, RESERVED_SECTIONS, QbwrkError, _collapse, _first_number, _sort_key, check_section_name, expand,
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


def _takeover_hosts(text, known_hosts, farm_wide, template_defs):
    """Workers of a file the earlier release wrote whole: each keeps its effective central config.

    Values given by a template the worker uses or by a declared farm-wide key stay there; the
    rest (including what the old renderer hoisted into [default]/OS sections) goes to its own section.
    """
    parsed = [(section.name, section.templates, dict((line.key, line.value) for line in section.entries()))
              for section in split(text)[1]]
    hosts = {}
    for name, os_name in sorted(known_hosts.items()):
        effective = expand(parsed, name, os_name)
        templates = []
        for section, inherited, _values in parsed:
            if section not in RESERVED_SECTIONS and section not in template_defs and \
                    _names_host(section, name) and inherited:
                templates = list(inherited)
        given = {}
        for key, value in (farm_wide.get("default") or {}).items():
            given[key] = value
        for key, value in (farm_wide.get(os_name) or {}).items():
            given[key] = value
        for template in templates:
            given.update(template_defs.get(template) or {})
        values = dict((key, value) for key, value in effective.items() if given.get(key) != value)
        if values or templates:
            hosts[name] = {"templates": templates, "values": values, "extra": ()}
    return hosts


def _names_host(section, host):
    try:
        return host in host_names(section)
    except QbwrkError:
        return False


def _render_hosts(hosts, restricted):
    """Managed host sections, sorted like :func:`qbwrk.render`: ``[(sort key, section text)]``."""
    groups = {}
    for name, entry in hosts.items():
        if not (entry["values"] or entry["templates"] or entry["extra"] or restricted):
            continue
        key = (tuple(entry["templates"]), tuple(sorted(entry["values"].items())), entry["extra"])
        groups.setdefault(key, []).append(name)
    blocks = []
    for (templates, values, extra), members in groups.items():
        members = sorted(members, key=_sort_key)
        # A restricted host policy wants every worker named (CPR supervisor_host_policy.md): no ranges.
        headers = members if restricted else _collapse(members)
        for header in headers:
            lines = ["[%s]%s\n" % (header, " : " + " ".join(templates) if templates else "")]
            lines.extend("%s = %s\n" % (key, value) for key, value in values)
            lines.extend(raw if raw.endswith("\n") else raw + "\n" for _key, raw in extra)
            lines.append("\n")
            blocks.append((_sort_key(header.split("[")[0] + _first_number(header)), header, "".join(lines)))
    return sorted(blocks)


def _farm_section_body(section, keys_before, wanted):
    """Edit a [default]/OS section body key by key -> (new body text, managed keys)."""
    conf = QbConf("".join(line.raw for line in section.body) if section else "")
    for key in keys_before:
        if key not in wanted:
            conf.remove(key)
    for key in sorted(wanted):
        current = conf.get(key)
        if current is None or current != wanted[key]:
            conf.set(key, Raw(wanted[key]))
    return conf.text(), sorted(wanted)


def merge(text, hosts, templates=None, farm_wide=None, known_hosts=None, restricted=False, header=""):
    """The new qbwrk.conf text; see the module docstring.

    ``hosts``: {name: {os, templates: [names], settings: {key: python value}}} of this run;
    ``templates``: {name: {key: python value}} (the farm's template definitions);
    ``farm_wide``: {default|linux|osx|winnt: {key: python value}} declared farm-wide;
    ``known_hosts``: {name: os} of every worker in inventory (used to take over an old file);
    ``restricted``: the supervisor's host policy is restricted (every managed worker named);
    ``header``: extra first lines (``ansible_managed``), written above the ownership record.
    Raises :class:`QbwrkError` for a model that cannot be written.
    """
    templates = templates or {}
    farm_wide = dict((section, dict((k, render_value(k, v)) for k, v in (values or {}).items()))
                     for section, values in (farm_wide or {}).items())
    for section in farm_wide:
        if section not in FARM_SECTIONS:
            raise QbwrkError("farm-wide settings name section [%s]; use default, linux, osx or winnt" % section)
    template_defs = dict((name, dict((k, render_value(k, v)) for k, v in values.items()))
                         for name, values in templates.items())
    preamble, sections = split(text or "")
    managed, old = read_record(preamble)
    if old:
        managed = dict((section.name, [line.key for line in section.entries()]) for section in sections)
    existing = dict((section.name, section) for section in sections if not section.repeat)
    declared_templates = set(_template_names(existing.get("global_config")))
    if old:
        previous = _takeover_hosts(text, known_hosts or {}, farm_wide, template_defs)
    else:
        previous = _previous_hosts(sections, managed, declared_templates | set(template_defs))

    wanted = dict(previous)
    for name, host in hosts.items():
        if host.get("os") not in OS_SECTIONS:
            raise QbwrkError("%s: os must be one of %s (got %r)" % (name, ", ".join(OS_SECTIONS), host.get("os")))
        for template in host.get("templates") or []:
            if template not in template_defs:
                raise QbwrkError("%s: template %r is not defined in qube_templates" % (name, template))
        values = _host_values(host)
        # Keys added by hand inside the worker's section stay, unless the inventory now sets them.
        extra = tuple((key, raw) for key, raw in (previous.get(name) or {}).get("extra", ()) if key not in values)
        wanted[name] = {"templates": list(host.get("templates") or []), "values": values, "extra": extra}
        if values or host.get("templates") or restricted:
            check_section_name(name)

    used_templates = sorted(set(t for entry in wanted.values() for t in entry["templates"]))
    for template in used_templates:
        if template not in template_defs:
            if template not in existing:
                raise QbwrkError("template %r is used by a managed worker but defined nowhere" % template)
            template_defs[template] = dict((line.key, line.value) for line in existing[template].entries())
        check_section_name(template, "template")

    record = {}
    farm_texts = {}
    for section in FARM_SECTIONS:
        before = managed.get(section, [])
        desired = farm_wide.get(section, {})
        if section in existing or desired:
            body, keys = _farm_section_body(existing.get(section), before, desired)
            farm_texts[section] = body
            if keys:
                record[section] = keys

    host_blocks = _render_hosts(wanted, restricted)
    template_block = "".join("[%s]\n%s\n" % (name, "".join("%s = %s\n" % (k, v) for k, v in sorted(template_defs[name].items())))
                             for name in used_templates)
    for name in used_templates:
        record[name] = sorted(template_defs[name])
    for _sort, header_name, _text in host_blocks:
        entry = wanted[host_names(header_name)[0]]
        record[header_name] = sorted(entry["values"])
    managed_block = template_block + "".join(block for _s, _h, block in host_blocks)

    owned_before = set(managed) - set(FARM_SECTIONS) - set(["global_config"])
    out, placed = [], False
    for section in sections:
        if section.repeat and not old:
            out.append(_separated(out, section.text()) if placed else section.text())
        elif section.name in FARM_SECTIONS:
            body = farm_texts.get(section.name, "")
            if old and not body.strip():
                continue
            out.append(section.head.raw + body)
        elif section.name == "global_config":
            out.append(section.head.raw + _global_config_body(section, managed.get("global_config", []),
                                                              owned_before, used_templates, old))
        elif (section.name in owned_before and not section.repeat) or old:
            if not placed:
                out.append(_separated(out, managed_block))
                placed = True
        else:
            out.append(_separated(out, section.text()) if placed else section.text())
    if not placed:
        out.append(_separated(out, managed_block))
    missing = [s for s in FARM_SECTIONS if s not in existing and farm_texts.get(s, "").strip()]
    prefix = "".join("[%s]\n%s\n" % (s, farm_texts[s]) for s in missing)
    if used_templates and "global_config" not in existing:
        prefix = "[global_config]\ntemplates = %s\n\n" % render_value("templates", used_templates) + prefix
    if used_templates:
        record["global_config"] = ["templates"]

    kept_preamble = "".join(line.raw for line in preamble
                            if not RECORD_RE.match(line.raw.rstrip("\r\n"))
                            and line.raw.rstrip("\r\n") not in INTRO_LINES
                            and not line.raw.startswith(OLD_HEADER)
                            and not (header and line.raw.rstrip("\r\n") in header.splitlines()))
    head = (header.rstrip("\n") + "\n" if header else "") + INTRO + "".join(
        ("%s%s]: %s" % (RECORD_PREFIX, name, " ".join(keys))).rstrip() + "\n" for name, keys in sorted(record.items(), key=_record_order))
    body = "".join(out)
    if kept_preamble.strip() == "" and not kept_preamble.startswith("\n"):
        kept_preamble = "\n"
    return head + kept_preamble + prefix + body


def _separated(out, block):
    """``block``, after a blank line when the text before it does not end with one."""
    before = "".join(out[-1:])
    if block and before and not before.endswith("\n\n") and before.strip():
        return "\n" + block if before.endswith("\n") else "\n\n" + block
    return block


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


def _global_config_body(section, managed_keys, owned_before, used_templates, old):
    """[global_config] with ``templates`` edited item by item (names of other people kept)."""
    conf = QbConf("".join(line.raw for line in section.body))
    names = _template_names(section)
    ours_before = owned_before if not old else set(names)
    kept = [n for n in names if n not in ours_before or n in used_templates]
    kept += [n for n in used_templates if n not in kept]
    if kept != names:
        if kept:
            conf.set("templates", Raw(render_value("templates", kept)))
        else:
            conf.remove("templates")
    return conf.text()


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
