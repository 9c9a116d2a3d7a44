# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The POSIX validation job: run checks as the job identity, exactly as the Qube! worker would.

The worker (root) starts a job by forking and calling ``initgroups``/``setgid``/``setuid``: no
login, no shell rc files, no PAM session.  :func:`run_validation` does the same in a child
process with a minimal environment and ``/`` as working directory, then runs the built-in
checks (who am I, uid/gid/groups, home directory) and the administrator's checks (probe file
write/read/delete in each path, an optional command).  The child streams one JSON line per
event to the parent through a pipe, so a check that hangs still leaves the finished ones in
the report; on timeout the parent kills the child's whole process group.

Result (shared with the Windows path, ``winrm_identity.py``; the module side - cadence, records,
the Qube! job check - is ``validation_job.py``)::

    {ok, via: "direct", platform, identity: {user, uid, gid, groups, home},
     checks: [{name, ok, detail}], duration_s, error?: {code, message, fix}}
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import grp
import json
import os
import pwd
import select
import signal
import socket
import subprocess
import sys
import time

MINIMAL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}
PRIVILEGED_GROUPS = frozenset(("root", "sudo", "wheel", "admin", "domain admins",
                               "enterprise admins", "administrators"))
EXCERPT_CHARS = 400


def platform_name():
    """``linux`` or ``darwin`` (the ``platform`` field of the result)."""
    return "darwin" if sys.platform == "darwin" else "linux"


def error(code, message, fix):
    """The ``error`` member of a result."""
    return {"code": code, "message": message, "fix": fix}


def candidate_names(account, domain=None):
    """Names to try for the account, in the forms winbind (``DOMAIN\\user``) and sssd
    (``user@domain``) resolve.  An account already qualified is tried as written."""
    if not domain or "\\" in account or "@" in account:
        return [account]
    return ["%s\\%s" % (domain, account), "%s@%s" % (account, domain)]


def resolve_identity(account, domain=None):
    """The ``pwd`` entry of the account, or None; tries every :func:`candidate_names` form."""
    for name in candidate_names(account, domain):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def group_names(name, gid):
    """Names of the groups ``initgroups(name, gid)`` gives, primary group first."""
    names = []
    for number in [gid] + [g for g in os.getgrouplist(name, gid) if g != gid]:
        try:
            names.append(grp.getgrgid(number).gr_name)
        except KeyError:
            names.append(str(number))
    return names


def describe_identity(entry):
    """``{user, uid, gid, groups, home}`` of a ``pwd`` entry (as the target host sees it)."""
    return {"user": entry.pw_name, "uid": entry.pw_uid, "gid": entry.pw_gid,
            "groups": group_names(entry.pw_name, entry.pw_gid), "home": entry.pw_dir}


def _short_group(name):
    return name.split("\\")[-1].split("@")[0].lower()


def privilege_problems(identity, service_account=None):
    """Reasons why running jobs as ``identity`` would hand out root or admin rights."""
    problems = []
    if identity["uid"] == 0:
        problems.append("it is uid 0")
    if identity["gid"] == 0:
        problems.append("its primary group is gid 0")
    admin = [g for g in identity["groups"] if _short_group(g) in PRIVILEGED_GROUPS]
    if admin:
        problems.append("it is a member of %s" % ", ".join(admin))
    if service_account and identity["user"] in candidate_names(service_account) + [service_account]:
        problems.append("it is the worker's service account")
    return problems


def _errno_text(err):
    code = errno.errorcode.get(err.errno, str(err.errno)) if err.errno else "?"
    return "%s (%s)" % (err.strerror or err, code)


def probe_path(path, host):
    """Write, read back and delete a probe file in ``path``; ``(ok, detail)``."""
    name = ".qube-probe-%s-%s" % (host, binascii.hexlify(os.urandom(6)).decode("ascii"))
    probe = os.path.join(path, name)
    payload = ("qube identity probe %s\n" % name).encode("ascii")
    step = "create"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            step = "write"
            os.write(fd, payload)
        finally:
            os.close(fd)
        step = "read"
        with open(probe, "rb") as handle:
            if handle.read() != payload:
                os.unlink(probe)
                return False, "read: %s did not read back what was written" % probe
        step = "delete"
        os.unlink(probe)
    except OSError as err:
        if step not in ("create", "delete"):
            try:
                os.unlink(probe)
            except OSError:
                pass
        return False, "%s %s: %s" % (step, probe, _errno_text(err))
    return True, "wrote, read back and deleted %s" % name


def _run_command(argv):
    """Run the administrator's command; ``(ok, detail)`` with rc and an output excerpt."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=dict(MINIMAL_ENV), cwd="/", close_fds=True)
    except OSError as err:
        return False, "cannot start %s: %s" % (argv[0], _errno_text(err))
    output = proc.communicate()[0].decode("utf-8", "replace").strip()
    excerpt = output if len(output) <= EXCERPT_CHARS else output[:EXCERPT_CHARS] + " [...]"
    return proc.returncode == 0, "rc=%s output: %s" % (proc.returncode, excerpt or "(none)")


def _child_checks(entry, spec, emit):
    """Run in the child after the identity switch; every event goes through ``emit``."""
    expected = describe_identity(entry)

    def check(name, func):
        emit({"event": "start", "name": name})
        try:
            ok, detail = func()
        except Exception as err:  # a check must report, never kill the job
            ok, detail = False, "%s: %s" % (type(err).__name__, err)
        emit({"event": "check", "name": name, "ok": bool(ok), "detail": detail})

    def whoami():
        user = pwd.getpwuid(os.geteuid()).pw_name
        return user == entry.pw_name, "effective user %s" % user

    def ids():
        uid, gid = os.getuid(), os.getgid()
        same = (uid, os.geteuid(), gid, os.getegid()) == (entry.pw_uid, entry.pw_uid, entry.pw_gid, entry.pw_gid)
        if entry.pw_uid != 0:
            try:
                os.setuid(0)
                return False, "uid=%s gid=%s but the job could become root again" % (uid, gid)
            except OSError:
                pass
        return same, "uid=%s gid=%s (expected %s/%s)" % (uid, gid, entry.pw_uid, entry.pw_gid)

    def groups():
        have = set(os.getgroups()) | {os.getgid()}
        want = set(os.getgrouplist(entry.pw_name, entry.pw_gid))
        names = group_names(entry.pw_name, entry.pw_gid)
        if have != want:
            return False, "groups %s, expected %s" % (sorted(have), sorted(want))
        return True, "groups %s" % ", ".join(names)

    def home():
        path = entry.pw_dir
        if not path or not os.path.isdir(path):
            return False, "home directory %s does not exist" % (path or "(empty)")
        if not os.access(path, os.R_OK | os.X_OK):
            return False, "home directory %s is not readable by %s" % (path, entry.pw_name)
        return True, "home directory %s exists and is readable" % path

    check("whoami", whoami)
    check("uid_gid", ids)
    check("groups", groups)
    check("home", home)
    for path in spec.get("paths") or []:
        check("path:%s" % path, lambda p=path: probe_path(p, spec["host"]))
    if spec.get("command"):
        check("command", lambda: _run_command(spec["command"]))
    emit({"event": "done", "identity": expected})


# The child execs a fresh interpreter after the identity switch, so the validation process starts
# with the job environment only: a forked copy of root's process would keep root's environment
# block (HOME=/root, PATH, ...) readable in /proc/<pid>/environ by the very account it tests.
_CHILD_BOOT = ("import json, sys; d = json.loads(sys.stdin.read()); "
               "g = {'__name__': 'qube_identity_child'}; "
               "exec(compile(d['source'], 'qube_identity_child', 'exec'), g); g['_exec_child'](d)")


def _job_env(entry):
    env = dict(MINIMAL_ENV)
    env.update({"HOME": entry.pw_dir or "/", "USER": entry.pw_name, "LOGNAME": entry.pw_name})
    return env


def _own_source():
    """This file's text, to run in the child's fresh interpreter (read by root before the switch)."""
    loader = globals().get("__loader__")
    if loader is not None and hasattr(loader, "get_source"):
        text = loader.get_source(__name__)
        if text:
            return text
    with open(__file__) as handle:
        return handle.read()


def _exec_child(payload):
    """Entry point inside the fresh interpreter: run the checks as the (already switched) identity."""
    status = 0
    try:
        out = os.fdopen(payload["fd"], "w", buffering=1)

        def emit(event):
            out.write(json.dumps(event) + "\n")

        entry = pwd.getpwnam(payload["user"])
        _child_checks(entry, payload["spec"], emit)
        out.flush()
    except BaseException:
        status = 3
    finally:
        os._exit(status)


def _child(entry, spec, write_fd, source):
    """Child side: switch identity, exec a fresh interpreter for the checks; never returns."""
    status = 0
    try:
        os.setsid()
        try:
            os.initgroups(entry.pw_name, entry.pw_gid)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.chdir("/")
        except OSError as err:
            os.write(write_fd, (json.dumps({"event": "switch_failed", "detail": _errno_text(err)}) + "\n").encode("utf-8"))
            status = 2
        else:
            payload = json.dumps({"source": source, "spec": spec, "user": entry.pw_name, "fd": write_fd}).encode("utf-8")
            if len(payload) > 60000:  # more than a pipe holds before the interpreter reads it
                raise ValueError("validation payload too large")
            read_end, write_end = os.pipe()
            os.write(write_end, payload)
            os.close(write_end)
            os.dup2(read_end, 0)
            os.close(read_end)
            os.set_inheritable(write_fd, True)
            # The module's interpreter may live where the account cannot go (a virtualenv in
            # /root): then the system's Python 3 runs the checks.
            for python in (sys.executable, "/usr/bin/python3", "/usr/libexec/platform-python", "/usr/local/bin/python3"):
                if python and os.access(python, os.X_OK):
                    try:
                        os.execve(python, [python, "-I", "-S", "-c", _CHILD_BOOT], _job_env(entry))
                    except OSError:
                        continue
            os.write(write_fd, (json.dumps({"event": "switch_failed", "detail": "no Python interpreter that %s may run "
                                            "was found to start the checks" % entry.pw_name}) + "\n").encode("utf-8"))
            status = 2
    except BaseException:  # never let the child unwind into the parent's code
        status = 3
    finally:
        os._exit(status)


def _collect(read_fd, pid, timeout):
    """Parent side: read the child's events until EOF or the deadline; kill it on timeout."""
    events, buf, deadline, timed_out = [], b"", time.time() + timeout, False
    while True:
        left = deadline - time.time()
        if left <= 0:
            timed_out = True
            break
        ready = select.select([read_fd], [], [], left)[0]
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            events.append(json.loads(line.decode("utf-8")))
    if timed_out:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    os.close(read_fd)
    _reap(pid)
    return events, timed_out


def _reap(pid, grace=5.0):
    """Wait for the child, but never forever (a process stuck on a dead mount ignores SIGKILL)."""
    deadline = time.time() + grace
    while True:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done or time.time() > deadline:
            return bool(done)
        time.sleep(0.02)


def _unknown_identity(account, domain):
    tried = " or ".join(candidate_names(account, domain))
    return error("identity_unknown", "%s does not resolve on this host (tried %s)" % (account, tried),
                 "create the account, or join the host to the directory (winbind/sssd) and check "
                 "'getent passwd %s'" % candidate_names(account, domain)[0])


def run_validation(account, domain=None, paths=None, command=None, timeout=60, host=None,
                   allow_privileged=False, service_account=None):
    """Run the validation job as the account; returns the result dict described above."""
    started = time.time()
    result = {"ok": False, "via": "direct", "platform": platform_name(), "identity": {}, "checks": []}

    def finish():
        result["duration_s"] = round(time.time() - started, 3)
        return result

    entry = resolve_identity(account, domain)
    if entry is None:
        result["error"] = _unknown_identity(account, domain)
        return finish()
    result["identity"] = describe_identity(entry)
    problems = privilege_problems(result["identity"], service_account)
    if problems and not allow_privileged:
        result["error"] = privileged_error(entry.pw_name, problems)
        return finish()

    spec = {"paths": list(paths or []), "command": list(command or []),
            "host": host or socket.gethostname().split(".")[0]}
    source = _own_source()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(entry, spec, write_fd, source)
    os.close(write_fd)
    events, timed_out = _collect(read_fd, pid, timeout)
    return finish_result(result, events, timed_out, timeout, finish)


def privileged_error(user, problems):
    """The refusal of an identity that would run jobs with root or admin rights."""
    return error("privileged_identity",
                 "refusing to run render jobs as %s: %s" % (user, "; ".join(problems)),
                 "use an unprivileged account for jobs, or set allow_privileged: true if this is "
                 "really intended")


def finish_result(result, events, timed_out, timeout, finish):
    """Fold the child's events into the result."""
    running = None
    for event in events:
        kind = event.get("event")
        if kind == "start":
            running = event["name"]
        elif kind == "check":
            running = None
            result["checks"].append({"name": event["name"], "ok": event["ok"], "detail": event["detail"]})
        elif kind == "switch_failed":
            result["error"] = error("switch_failed", "cannot switch to %s: %s"
                                    % (result["identity"]["user"], event["detail"]),
                                    "run the module as root (become: true)")
        elif kind == "done":
            result["identity"] = event["identity"]
    if timed_out:
        result["checks"].append({"name": running or "validation", "ok": False,
                                 "detail": "still running after %ss; the job was killed" % timeout})
        result["error"] = error("timeout", "the validation job as %s did not finish within %ss (%s)"
                                % (result["identity"]["user"], timeout, running or "validation"),
                                "make the check faster (hung network mount?) or raise validation_timeout")
    elif "error" not in result and not any(e.get("event") == "done" for e in events):
        result["error"] = error("job_died", "the validation job as %s ended without a report"
                                % result["identity"]["user"], "see the host's system log")
    failed = [c["name"] for c in result["checks"] if not c["ok"]]
    if failed and "error" not in result:
        result["error"] = error("check_failed", "validation as %s failed: %s"
                                % (result["identity"]["user"], "; ".join(
                                    "%s: %s" % (c["name"], c["detail"]) for c in result["checks"] if not c["ok"])),
                                "give %s the access the failed checks need" % result["identity"]["user"])
    result["ok"] = "error" not in result
    return finish()
