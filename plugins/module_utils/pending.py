# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markers for work a run owes a host (a worker restart, a push, a re-read).

A module that changes something whose handler must still run writes a marker; the handler
removes it once it succeeded. A run that dies or loses the host in between leaves it, and the
next run (``qube_conf`` reports changed while its ``pending_file`` exists) does the work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os


def mark(pending_file, reason):
    """Write the marker (folder 0700 when created, file 0644; it holds no secret)."""
    directory = os.path.dirname(pending_file)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd = os.open(pending_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(reason.rstrip("\n") + "\n")
