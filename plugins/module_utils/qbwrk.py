# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the supervisor's central worker configuration (qbwrk.conf) from a farm model.

Farm model: ``hosts`` is a list of ``{name, os: linux|osx|winnt, templates: [names],
settings: {key: value}}``; ``templates`` is ``{name: {key: value}}``; ``defaults`` are explicit
``[default]`` values.  A host's desired central config is :func:`desired_config`: defaults, then
its templates in order, then its own settings (later wins).

:func:`render` writes the most compact file that gives every host exactly that config:

* ``[default]``: the explicit defaults plus every key whose value is identical on all hosts;
* ``[linux]``/``[osx]``/``[winnt]``: keys identical on all hosts of that OS and not in ``[default]``;
* template sections (listed in ``[global_config] templates``) before any host section;
* per host only what ``default -> os -> templates`` do not already give; hosts with the same
  remainder and template list and consecutive numbered names share a range section
  (``[render[001-200]] : tmpl``, or ``[fast[1-100]]`` for unpadded names); a host with nothing
  left and no template has no section.

:func:`expand` computes one host's effective config from a file, the way the supervisor reads it
(top to bottom; every section inherits ``[default]``; a template must be defined before use), so
tests can prove ``expand(render(model), host) == desired_config(host)`` for every host.  Values
are compared as rendered text (see ``qbconf.render_value``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    SECTION_RE, parse_lines, render_value,
)

OS_SECTIONS = ("linux", "osx", "winnt")
RESERVED_SECTIONS = frozenset(("default", "global_config", "self", "this") + OS_SECTIONS)
SECTION_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_NUMBERED_RE = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)$")
_RANGE_RE = re.compile(r"^(?P<prefix>[A-Za-z0-9_]*)\[(?P<low>\d+)-(?P<high>\d+)\](?P<suffix>[A-Za-z0-9_]*)$")


class QbwrkError(ValueError):
    """The farm model cannot be written as a qbwrk.conf."""


def check_section_name(name, what="host"):
    """Raise :class:`QbwrkError` unless ``name`` can be a qbwrk.conf section name."""
    if not isinstance(name, str) or not SECTION_NAME_RE.match(name):
        if what == "host":
            raise QbwrkError(
                "%s: %r cannot be a qbwrk.conf section name (only letters, digits and _ are allowed). "
                "Set qube_worker_name for this host to the name its worker registers with, using only "
                "those characters." % (name, name))
        raise QbwrkError("%s %r cannot be a qbwrk.conf section name (only letters, digits and _ are "
                         "allowed); rename it in qube_templates." % (what, name))


def _render_all(values):
    return dict((key, render_value(key, value)) for key, value in values.items())


def desired_config(host, templates=None, defaults=None):
    """The host's desired central config as ``{key: rendered value text}``."""
    templates = templates or {}
    merged = _render_all(defaults or {})
    for name in host.get("templates") or []:
        if name not in templates:
            raise QbwrkError("%s: template %r is not defined in qube_templates" % (host.get("name"), name))
        merged.update(_render_all(templates[name]))
    merged.update(_render_all(host.get("settings") or {}))
    return merged


def _common(configs):
    """Items present with the same text in every config of ``configs``."""
    configs = list(configs)
    if not configs:
        return {}
    common = dict(configs[0])
    for config in configs[1:]:
        for key in list(common):
            if config.get(key) != common[key]:
                del common[key]
    return common


def _without_templates(config, host, template_text):
    """The part of a host's config its templates do not already give (OS sections skip it)."""
    given = {}
    for name in host.get("templates") or []:
        given.update(template_text[name])
    if not given:
        return config
    return dict((k, v) for k, v in config.items() if given.get(k) != v)


def _sort_key(name):
    match = _NUMBERED_RE.match(name)
    if match:
        return (match.group("prefix"), int(match.group("digits")), name)
    return (name, -1, name)


def _collapse(names):
    """Group sorted host names into runs that one range section can name -> list of headers."""
    headers = []
    run = []  # [(prefix, digits)]
    mode = None  # ("padded", width) | ("free", width) | ("unpadded", None)

    def flush():
        if len(run) == 1:
            headers.append(run[0][0] + run[0][1])
        elif run:
            prefix, low, high = run[0][0], run[0][1], run[-1][1]
            if mode[0] == "padded":
                headers.append("%s[%s-%s]" % (prefix, low, high))
            else:
                headers.append("%s[%d-%d]" % (prefix, int(low), int(high)))

    plain = []
    for name in names:
        match = _NUMBERED_RE.match(name)
        if not match:
            plain.append(name)
            continue
        prefix, digits = match.group("prefix"), match.group("digits")
        padded = len(digits) > 1 and digits.startswith("0")
        extend = False
        if run and run[-1][0] == prefix and int(digits) == int(run[-1][1]) + 1:
            if mode[0] == "padded":
                extend = len(digits) == mode[1]
            elif mode[0] == "free":
                extend = not padded
                if extend and len(digits) != mode[1]:
                    mode = ("unpadded", None)
            else:
                extend = not padded
        if not extend:
            flush()
            run = []
            mode = ("padded", len(digits)) if padded else ("free", len(digits))
        run.append((prefix, digits))
    flush()
    return plain + headers


def _section(header, values, templates=()):
    lines = ["[%s]%s" % (header, " : " + " ".join(templates) if templates else "")]
    lines.extend("%s = %s" % (key, values[key]) for key in sorted(values))
    return "\n".join(lines) + "\n"


def render(hosts, templates=None, defaults=None, header=""):
    """Render qbwrk.conf text for ``hosts`` (see the module docstring for the algorithm)."""
    templates = templates or {}
    names = set()
    for name in templates:
        check_section_name(name, "template")
        if name in RESERVED_SECTIONS:
            raise QbwrkError("template %r uses a reserved section name (%s); rename it in qube_templates"
                             % (name, ", ".join(sorted(RESERVED_SECTIONS))))
    for host in hosts:
        name = host.get("name")
        if not isinstance(name, str) or not name:
            raise QbwrkError("a host has no name (%r); set qube_worker_name for it" % (name,))
        if name in names:
            raise QbwrkError("%s: two hosts use the section name %r; give each a unique qube_worker_name"
                             % (name, name))
        if name in templates or name in RESERVED_SECTIONS:
            raise QbwrkError("%s: the section name %r is also a template or reserved section name; set "
                             "qube_worker_name for this host or rename the template" % (name, name))
        if host.get("os") not in OS_SECTIONS:
            raise QbwrkError("%s: os must be one of %s (got %r)" % (name, ", ".join(OS_SECTIONS), host.get("os")))
        names.add(name)
    desired, default_section, os_sections, template_text = _layout(hosts, templates, defaults)
    groups = _groups(desired, default_section, os_sections, template_text)
    for (host_templates, rest), members in groups.items():
        for name in members:
            # Only section names are limited (qbwrk_conf+File+Format.md); a host without its own
            # section may have any name.
            check_section_name(name)
    return _text(header, template_text, default_section, os_sections, groups)


def _layout(hosts, templates, defaults):
    """(desired [(host, config)], [default] values, OS sections, template text) for :func:`render`."""
    desired = [(host, desired_config(host, templates, defaults)) for host in hosts]
    default_section = _render_all(defaults or {})
    for key, value in _common(config for _host, config in desired).items():
        default_section.setdefault(key, value)
    template_text = dict((name, _render_all(values)) for name, values in templates.items())
    os_sections = {}
    for os_name in OS_SECTIONS:
        common = _common(_without_templates(config, host, template_text)
                         for host, config in desired if host["os"] == os_name)
        os_sections[os_name] = dict((k, v) for k, v in common.items() if k not in default_section)
    return desired, default_section, os_sections, template_text


def sections_needed(hosts, templates=None, defaults=None):
    """Names of the hosts that get a section of their own in :func:`render` of this farm."""
    desired, default_section, os_sections, template_text = _layout(hosts, templates or {}, defaults)
    return set(name for members in _groups(desired, default_section, os_sections, template_text).values()
               for name in members)


def _groups(desired, default_section, os_sections, template_text):
    """{(templates, remaining items): [host names]} of the hosts that need a section."""
    groups = {}
    for host, config in desired:
        base = dict(default_section)
        base.update(os_sections[host["os"]])
        for name in host.get("templates") or []:
            base.update(default_section)
            base.update(template_text[name])
        rest = tuple(sorted((k, v) for k, v in config.items() if base.get(k) != v))
        host_templates = tuple(host.get("templates") or ())
        if rest or host_templates:
            groups.setdefault((host_templates, rest), []).append(host["name"])
    return groups


def _text(header, template_text, default_section, os_sections, groups):
    blocks = []
    if header:
        blocks.append(header.rstrip("\n") + "\n")
    if template_text:
        blocks.append("[global_config]\ntemplates = %s\n" % ",".join(sorted(template_text)))
    if default_section:
        blocks.append(_section("default", default_section))
    blocks.extend(_section(os_name, os_sections[os_name]) for os_name in OS_SECTIONS if os_sections[os_name])
    blocks.extend(_section(name, template_text[name]) for name in sorted(template_text))
    host_blocks = []
    for (host_templates, rest), members in groups.items():
        for section_name in _collapse(sorted(members, key=_sort_key)):
            host_blocks.append((_sort_key(section_name.split("[")[0] + _first_number(section_name)),
                                _section(section_name, dict(rest), host_templates)))
    blocks.extend(block for _key, block in sorted(host_blocks))
    return "\n".join(blocks)


def _first_number(section_name):
    match = _RANGE_RE.match(section_name)
    return match.group("low") if match else ""


def parse(text):
    """qbwrk.conf text -> list of ``(section, [templates], {key: raw value text})`` in file order."""
    sections = []
    current = None
    for line in parse_lines(text):
        if line.kind == "section":
            match = SECTION_RE.match(line.raw.rstrip("\r\n"))
            inherited = (match.group("templates") or "").split()
            current = (line.key, inherited, {})
            sections.append(current)
        elif line.kind == "entry" and current is not None:
            current[2][line.key] = line.value
    return sections


def section_matches(section, host):
    """True when section name ``section`` (plain or ``prefix[low-high]``) names ``host``."""
    if section == host:
        return True
    match = _RANGE_RE.match(section)
    if not match:
        return False
    prefix, suffix, low, high = match.group("prefix", "suffix", "low", "high")
    if not (host.startswith(prefix) and host.endswith(suffix)) or len(host) <= len(prefix) + len(suffix):
        return False
    digits = host[len(prefix):len(host) - len(suffix)]
    if not digits.isdigit():
        return False
    if len(low) > 1 and low.startswith("0"):
        if len(digits) != len(low):
            return False
    elif len(digits) > 1 and digits.startswith("0"):
        return False
    return int(low) <= int(digits) <= int(high)


def expand(text, host, os_name):
    """Effective central config ``{key: raw value text}`` of ``host`` (on ``os_name``) from ``text``
    (qbwrk.conf text, or the result of :func:`parse` to expand many hosts from one parse).

    ``[default]`` first, then the OS section, then every section naming the host (plain or range)
    in file order; each section brings ``[default]``, its templates (in order) and its own keys.
    """
    expanded = {}
    matching = []
    for name, inherited, own in parse(text) if isinstance(text, str) else text:
        if name == "global_config":
            continue
        values = {} if name == "default" else dict(expanded.get("default", {}))
        for parent in inherited:
            if parent != "default" and parent not in expanded:
                raise QbwrkError("section [%s] inherits %r, which is not defined above it" % (name, parent))
            values.update(expanded.get(parent, {}))
        values.update(own)
        expanded[name] = values
        if name not in RESERVED_SECTIONS and section_matches(name, host):
            matching.append(values)
    effective = dict(expanded.get("default", {}))
    effective.update(expanded.get(os_name, {}))
    for values in matching:
        effective.update(values)
    return effective
