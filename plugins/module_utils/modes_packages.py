# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Worker packages: which are installed, whether they must be installed, names from package files.

``install_needed`` decides from ``ansible_facts['packages']`` (macOS, Windows, the role's
filter) or from ``installed_versions``, the one query ``qube_worker_mode`` makes on Linux
(``dpkg-query`` or ``rpm -q``). Part of the worker mode decisions (``modes.py``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath


PACKAGE_TYPES = {"Linux": (".deb", ".rpm"), "Darwin": (".pkg",), "Windows": (".msi",)}


def install_needed(version, installed, packages=None, package_files=None):
    """Whether the worker packages must be installed.

    ``installed`` is ``ansible_facts['packages']`` (name -> list of ``{"version": ...}``).
    With ``version``, installation is skipped when any of the package names (repository names,
    or names parsed from the package files) is installed at that version. Without it, package
    files (deb/rpm) are skipped when every one of them is installed at the version its file name
    carries; repository packages and other files are left to the package tools (idempotent).
    """
    installed = installed or {}
    if version:
        names = list(packages or []) + [package_name(f) for f in package_files or []]
        return not any(_has_version(installed.get(name), version) for name in names)
    parsed = [package_version(f) for f in package_files or []]
    if not parsed or any(v is None for v in parsed):
        return True
    return not all(_has_version(installed.get(package_name(f)), v) for f, v in zip(package_files, parsed))


def _has_version(entries, version):
    for pkg in entries or []:
        found = str(pkg.get("version", ""))
        # apt reports an epoch ("1:8.0-0") that deb file names leave out; rpm adds "-release".
        if found == version or found.split(":", 1)[-1] == version or \
                "%s-%s" % (found, pkg.get("release", "")) == version:
            return True
    return False


def package_version(path):
    """Version from a deb (``name_version_arch.deb``) or rpm (``name-version-release.arch.rpm``) file name."""
    base = posixpath.basename(str(path).replace("\\", "/"))
    if base.endswith(".deb"):
        parts = base[:-4].split("_")
        return parts[1] if len(parts) == 3 else None
    if base.endswith(".rpm"):
        stem = base[:-4].rsplit(".", 1)[0]
        parts = stem.rsplit("-", 2)
        return "%s-%s" % (parts[1], parts[2]) if len(parts) == 3 else None
    return None


def package_name(path):
    """Package name from a package file name (deb ``n_v_a.deb``, rpm ``n-v-r.a.rpm``, msi/pkg stem)."""
    base = posixpath.basename(path.replace("\\", "/"))
    if base.endswith(".deb"):
        return base.split("_", 1)[0]
    if base.endswith(".rpm"):
        return base[:-4].rsplit("-", 2)[0]
    return base.rsplit(".", 1)[0]


def installed_versions(module, names):
    """``{name: [{"version": ...}]}`` for the packages of ``names`` installed on the host."""
    dpkg = module.get_bin_path("dpkg-query")
    rpm = None if dpkg else module.get_bin_path("rpm")
    found = {}
    for name in names:
        if dpkg:
            rc, out, _err = module.run_command([dpkg, "-W", "-f", "${Status}|${Version}\\n", name])
            lines = [line.split("|", 1) for line in out.splitlines() if "|" in line]
            versions = [v for status, v in lines if status.endswith(" installed")]
        elif rpm:
            rc, out, _err = module.run_command([rpm, "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", name])
            versions = out.split() if rc == 0 else []
        else:
            versions = []
        if versions:
            found[name] = [{"version": v} for v in versions]
    return found


def host_install_needed(module, check):
    """(must install, any worker package installed before) from the host's package database."""
    names = list(check["packages"]) + [package_name(f) for f in check["package_files"]]
    installed = installed_versions(module, names)
    needed = install_needed(check["version"], installed,
                            packages=check["packages"], package_files=check["package_files"])
    return needed, bool(installed)
