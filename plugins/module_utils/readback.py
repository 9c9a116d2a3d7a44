# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a worker's effective configuration (as the supervisor reports it) with inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite, qbconf

# Values that cannot be compared as text: encrypted strings differ on every qbhash call, so
# only their presence is checked.  The secret keys: confwrite's one list.
PRESENCE_ONLY_KEYS = confwrite.SECRET_KEYS


def compare(expected, effective_text, raw=False):
    """Compare ``expected`` ({key: python value}, or raw value text with ``raw``) with ``qbadmin
    worker --configuration`` text.

    Returns ``{"ok": bool, "missing": [keys], "mismatched": {key: {"want": str, "got": str}},
    "diff": str}``; secret values never appear, only "(set)"/"(not set)".
    """
    actual = qbconf.QbConf(effective_text or "")
    missing, mismatched = [], {}
    for key in sorted(expected):
        got = actual.get(key)
        if key in PRESENCE_ONLY_KEYS:
            if got is None or not qbconf.unquote(got):
                missing.append(key)
            continue
        want = expected[key] if raw else qbconf.render_value(key, expected[key])
        if got is None:
            missing.append(key)
        elif not qbconf.values_equal(key, want, got):
            mismatched[key] = {"want": qbconf.unquote(want), "got": qbconf.unquote(got)}

    def shown(key):
        if key in PRESENCE_ONLY_KEYS:
            return "(set)"
        return qbconf.unquote(expected[key] if raw else qbconf.render_value(key, expected[key]))

    lines = ["- %s = %s\n+ %s = (not set)" % (k, shown(k), k) for k in missing]
    lines += ["- %s = %s\n+ %s = %s" % (k, v["want"], k, v["got"]) for k, v in sorted(mismatched.items())]
    return {"ok": not missing and not mismatched, "missing": missing, "mismatched": mismatched,
            "diff": "\n".join(lines)}


# qbhosts --xml states (CLI/qbhosts.md: --active, --down, --panic). A worker that fails its boot
# diagnostics goes to "panic" (CPR worker_boot_diagnostics_retries.md).
RUNNING_STATE = "active"
FAILED_STATES = ("panic", "down")
# Verdicts a run fails a worker for; the others are final and fine.
FAILING_VERDICTS = ("drifted", "panic", "down", "unknown")


UNKNOWN_VERDICT = "unknown"


def judge(result, state, mode="service", check_state=True):
    """Verdict for one worker and whether waiting longer could change it: ``(verdict, settled)``.

    ``result`` is :func:`compare`'s dict (or ``{"ok": False, "error": ...}``), ``state`` the worker's
    ``qbhosts --xml`` state (``"unlisted"`` when not listed, ``"unreadable"`` when qbhosts could not
    be read). Verdicts: ``in_sync``; ``not_running`` (a Desktop User worker whose user is not logged
    in, or, in check mode, a worker the run would start); ``drifted``; ``panic``; ``down``;
    ``unknown`` (no state could be read). Only ``in_sync`` and ``not_running`` are settled: the
    others are retried until the read-back's deadline, then fail the worker. A push may take a
    few minutes to reach every worker (CWC/centralized-worker-configuration.mdx) and a restarted
    worker registers again only after its boot diagnostics.
    """
    desktop = mode == "desktop"
    has_error = "error" in result
    if not check_state:
        # Check mode starts and writes nothing: a worker whose configuration this run would change
        # still runs the old one, so a difference is what the real run applies, not a drift.
        if result.get("ok"):
            return "in_sync", True
        return ("not_running", True) if has_error else (UNKNOWN_VERDICT, True)
    state = (state or "unreadable").lower()
    if state == "panic":
        return "panic", False
    if state in ("down", "unlisted"):
        return ("not_running", True) if desktop else ("down", False)
    if state != RUNNING_STATE:
        return "unknown", False
    if result.get("ok"):
        return "in_sync", True
    if desktop and has_error:
        return "not_running", True
    return "drifted", False


def effective_value(effective_text, key):
    """One key's unquoted value from ``qbadmin worker --configuration`` text, or None."""
    value = qbconf.QbConf(effective_text or "").get(key)
    return qbconf.unquote(value) if value is not None else None
