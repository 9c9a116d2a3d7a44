"""qbwrk.conf parser and per-host expander (STAND-IN for Qube!'s central worker config).

Models the documented format: ``[global_config]`` (templates, non_existent), ``[default]``,
``[linux]``/``[osx]``/``[winnt]``, template inheritance ``[host] : tmplA tmplB`` (templates
must appear earlier), numeric host ranges ``[render[001-200]]`` (padded) and
``[fast[1-100]]`` (unpadded), later sections override earlier ones, macros
``$template.key``, ``${template.key}``, ``$_``/``${_}`` and ``self``/``this``.

Stand-in choices where the docs are silent: a host's config is ``[default]`` then its OS
section then every matching host/range section in file order (each with its templates,
later templates winning); ``default`` is not re-applied through template inheritance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .confsyntax import ConfigSyntaxError, Entry, parse_lines

BOOTSTRAP_KEYS = frozenset(
    "qb_directory qb_domain qb_supervisor worker_address worker_boot_delay "
    "worker_journal_location worker_lookup worker_max_threads worker_pidfile worker_port".split()
)
OS_SECTIONS = ("linux", "osx", "winnt")
SPECIAL_SECTIONS = frozenset(("global_config", "default") + OS_SECTIONS)
HEADER_RE = re.compile(
    r"^\[(?P<prefix>[A-Za-z0-9_]*)(?:\[(?P<lo>\d+)-(?P<hi>\d+)\](?P<suffix>[A-Za-z0-9_]*))?\]"
    r"\s*(?::\s*(?P<parents>.*))?$"
)
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
MACRO_RE = re.compile(r"\$\{(\w+)(?:\.(\w+))?\}|\$(_)(?![\w.])|\$(\w+)\.(\w+)")


@dataclass(frozen=True)
class HostPattern:
    """A literal section name or a numeric range such as ``render[001-200]``."""

    prefix: str
    lo: int | None = None
    hi: int | None = None
    width: int = 0
    suffix: str = ""

    @classmethod
    def parse(cls, text: str) -> "HostPattern":
        """Parse ``name`` or ``prefix[lo-hi]suffix`` (raises ValueError)."""
        match = re.fullmatch(r"([A-Za-z0-9_]*)\[(\d+)-(\d+)\]([A-Za-z0-9_]*)", text)
        if match:
            lo_text = match.group(2)
            width = len(lo_text) if lo_text.startswith("0") and len(lo_text) > 1 else 0
            lo, hi = int(lo_text), int(match.group(3))
            if lo > hi or not (match.group(1) or match.group(4)):
                raise ValueError(f"bad host range {text!r}")
            return cls(match.group(1), lo, hi, width, match.group(4))
        if not NAME_RE.match(text):
            raise ValueError(f"invalid name {text!r}: only a-z, A-Z, 0-9 and '_' are allowed")
        return cls(text)

    @property
    def text(self) -> str:
        """The name as written in a section header."""
        if not self.is_range:
            return self.prefix
        lo = f"{self.lo:0{self.width}d}"
        return f"{self.prefix}[{lo}-{self.hi}]{self.suffix}"

    @property
    def is_range(self) -> bool:
        return self.lo is not None

    def matches(self, host: str) -> bool:
        """True when ``host`` is this name or inside this range."""
        if not self.is_range:
            return host == self.prefix
        if not (host.startswith(self.prefix) and host.endswith(self.suffix)):
            return False
        digits = host[len(self.prefix): len(host) - len(self.suffix) if self.suffix else None]
        if not digits.isdigit():
            return False
        if self.width and len(digits) != self.width:
            return False
        if not self.width and digits != str(int(digits)):
            return False
        return self.lo <= int(digits) <= self.hi

    def hosts(self) -> list[str]:
        """Every host name the pattern stands for."""
        if not self.is_range:
            return [self.prefix]
        return [f"{self.prefix}{n:0{self.width}d}{self.suffix}" for n in range(self.lo, self.hi + 1)]


@dataclass
class Section:
    """One ``[header]`` block: its pattern, templates and own entries."""

    pattern: HostPattern
    parents: list[str]
    line: int
    entries: dict[str, Entry] = field(default_factory=dict)
    inherited: dict[str, Entry] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.pattern.text

    def contribution(self) -> dict[str, Entry]:
        """Template entries (already merged) overridden by this section's own entries."""
        merged = dict(self.inherited)
        merged.update(self.entries)
        return merged


class QbwrkConfig:
    """A parsed qbwrk.conf; ``host_config`` gives one worker's expanded central config."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.sections: list[Section] = []
        self.templates_acc: dict[str, dict[str, Entry]] = {}
        self.used_as_template: set[str] = set()
        self.global_config: dict[str, str] = {}
        self._parse(text)

    def _parse(self, text: str) -> None:
        later_names = self._all_plain_names(text)
        current: Section | None = None
        for kind, item in parse_lines(self.path, text):
            if kind == "header":
                if current is not None:
                    self._close(current)
                current = self._open(item[0], item[1], later_names)
                continue
            if current is None:
                raise ConfigSyntaxError(self.path, item.line, f"key {item.key!r} outside a [section]")
            current.entries[item.key] = item
        if current is not None:
            self._close(current)
        for key in ("templates", "non_existent"):
            for name in filter(None, (n.strip() for n in self.global_config.get(key, "").split(","))):
                try:
                    pattern = HostPattern.parse(name)
                except ValueError as error:
                    raise ConfigSyntaxError(self.path, 1, f"[global_config] {key}: {error}") from None
                if key == "templates":
                    self.used_as_template.add(pattern.prefix)

    def _all_plain_names(self, text: str) -> dict[str, int]:
        """First line of every plain section name, to tell 'later' from 'undefined'."""
        names: dict[str, int] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            match = HEADER_RE.match(raw.split("#", 1)[0].strip())
            if match and match.group("lo") is None:
                names.setdefault(match.group("prefix"), number)
        return names

    def _open(self, line: int, header: str, later_names: dict[str, int]) -> Section:
        match = HEADER_RE.match(header)
        if not match or not (match.group("prefix") or match.group("lo")):
            raise ConfigSyntaxError(
                self.path, line,
                f"bad section header {header!r}: names may contain only a-z, A-Z, 0-9 and '_'")
        pattern_text = match.group("prefix")
        if match.group("lo") is not None:
            pattern_text += f"[{match.group('lo')}-{match.group('hi')}]{match.group('suffix')}"
        try:
            pattern = HostPattern.parse(pattern_text)
        except ValueError as error:
            raise ConfigSyntaxError(self.path, line, str(error)) from None
        parents = (match.group("parents") or "").split()
        section = Section(pattern, parents, line)
        for parent in parents:
            if not NAME_RE.match(parent):
                raise ConfigSyntaxError(self.path, line, f"invalid template name {parent!r}")
            if parent == "default":
                continue
            if parent not in self.templates_acc:
                if parent in later_names:
                    raise ConfigSyntaxError(
                        self.path, line,
                        f"template {parent!r} used before its definition (line {later_names[parent]})")
                raise ConfigSyntaxError(self.path, line, f"undefined template {parent!r}")
            self.used_as_template.add(parent)
            section.inherited.update(self.templates_acc[parent])
        return section

    def _close(self, section: Section) -> None:
        if section.name == "global_config":
            self.global_config = {k: e.value for k, e in section.entries.items()}
            return
        self.sections.append(section)
        if not section.pattern.is_range:
            self.templates_acc.setdefault(section.name, {}).update(section.contribution())
        self.check_macros(section)

    def check_macros(self, section: Section) -> None:
        """Reject macros that name a template not defined before this section."""
        for entry in section.entries.values():
            for match in MACRO_RE.finditer(entry.value):
                name = match.group(1) or match.group(4)
                if name and name not in ("_", "self", "this") and name not in self.templates_acc:
                    raise ConfigSyntaxError(self.path, entry.line, f"macro refers to undefined template {name!r}")

    # ---- expansion -------------------------------------------------------------------

    def raw_host_entries(self, host: str, os_name: str | None) -> dict[str, Entry]:
        """Merged, unexpanded entries for ``host``: default, OS section, matching sections."""
        merged: dict[str, Entry] = dict(self.templates_acc.get("default", {}))
        if os_name in OS_SECTIONS:
            merged.update(self.templates_acc.get(os_name, {}))
        for section in self.sections:
            if section.name in SPECIAL_SECTIONS:
                continue
            if section.pattern.matches(host):
                merged.update(section.contribution())
        return merged

    def expand(self, entries: dict[str, Entry], name: str) -> dict[str, str]:
        """Substitute macros; ``_`` is ``name`` and ``self``/``this`` are ``entries``."""
        values = {key: entry.value for key, entry in entries.items()}

        def lookup(template: str, key: str | None, depth: int) -> str:
            if template == "_" and key is None:
                return name
            source = values if template in ("self", "this") else {
                k: e.value for k, e in self.templates_acc.get(template, {}).items()}
            if key is None or key not in source:
                return ""
            return substitute(source[key], depth + 1)

        def substitute(value: str, depth: int = 0) -> str:
            if depth > 10:
                raise ValueError("macro expansion is too deep (cycle?)")

            def replace(match: re.Match) -> str:
                if match.group(1):
                    return lookup(match.group(1), match.group(2), depth)
                if match.group(3):
                    return name
                return lookup(match.group(4), match.group(5), depth)
            return MACRO_RE.sub(replace, value)

        return {key: substitute(value) for key, value in values.items()}

    def host_config(self, host: str, os_name: str | None = None, keep_bootstrap: bool = False) -> dict[str, str]:
        """The expanded central config of one worker (bootstrap keys dropped)."""
        expanded = self.expand(self.raw_host_entries(host, os_name), host)
        if not keep_bootstrap:
            expanded = {k: v for k, v in expanded.items() if k not in BOOTSTRAP_KEYS}
        return expanded

    def section_config(self, name: str) -> dict[str, str]:
        """Expanded entries of a special section (``default``/``linux``/...)."""
        return self.expand(self.templates_acc.get(name, {}), name)

    def host_names(self) -> list[str]:
        """Hosts named by sections that are not templates or special sections."""
        names: list[str] = []
        for section in self.sections:
            if section.name in SPECIAL_SECTIONS or section.name in self.used_as_template:
                continue
            for host in section.pattern.hosts():
                if host not in names:
                    names.append(host)
        return names


def load(path: str) -> QbwrkConfig:
    """Read and parse ``path`` (raises OSError or ConfigSyntaxError)."""
    with open(path, encoding="utf-8") as handle:
        return QbwrkConfig(path, handle.read())
