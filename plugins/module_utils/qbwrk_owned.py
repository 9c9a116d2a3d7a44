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

Reading the file (sections, the record, the managed workers' values, the conflict check) is in
``qbwrk_sections.py``; every name of it is importable from here too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConf, Raw, render_value
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import (
    OS_SECTIONS, RESERVED_SECTIONS, QbwrkError, _collapse, _first_number, _sort_key, check_section_name, expand,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk_sections import (
    FARM_SECTIONS, INTRO, INTRO_LINES, OLD_HEADER, RECORD_PREFIX, RECORD_RE, _host_values, _names_host, _previous_hosts,
    _record_order, _template_names, host_names, read_record, split,
)
# Re-exported: the supervisor's module and the tests read the file through qbwrk_owned.
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk_sections import (  # noqa: F401 pylint: disable=unused-import
    MAX_RANGE, Section, changed_back, check, effective, managed_sections, sections_of, written_whole,
)


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
