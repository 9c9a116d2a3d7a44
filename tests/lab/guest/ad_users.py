#!/usr/bin/python3
"""Put the lab's Samba AD users into known states (runs inside the DC host, as root).

Reads KEY='value' lines (tests/lab/ad-users.env) on stdin, so no password is ever on a
command line. Recreates every account, so running it twice gives the same states:

    renderproxy, someuser  valid, members of group ``renderers``
    winrmadmin             valid, member of ``Domain Admins`` (the WinRM admin of the WinRM double's AD tests)
    disableduser           disabled
    expireduser            account expired (accountExpires = now)
    mustchange             must change password at next logon (pwdLastSet = 0)
    lockeduser             locked out by bad binds; only this user has a lockout policy (PSO)

Also sets the Administrator password. Prints one line per account, never a password.
"""
import contextlib
import os
import shlex
import subprocess
import sys

import ldb
from samba.auth import system_session
from samba.credentials import DONT_USE_KERBEROS, Credentials
from samba.param import LoadParm
from samba.samdb import SamDB

GROUP = "renderers"
LOCKOUT_PSO = "qlab-lockout"
LOCKOUT_THRESHOLD = 3
UF_LOCKOUT = 0x10


def read_env(stream):
    """Parse shell-style KEY='value' lines into a dict, ignoring comments."""
    values = {}
    for line in stream:
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, raw = line.partition("=")
            values[key.strip()] = shlex.split(raw)[0] if raw else ""
    return values


def samba_tool(*args):
    """Run samba-tool with non-secret arguments; raise with its output on failure."""
    proc = subprocess.run(["samba-tool", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"samba-tool {' '.join(args[:3])} failed: {proc.stderr.strip()}")


def recreate_user(samdb, name, password, **kwargs):
    """Delete NAME if present, then create it with PASSWORD."""
    if samdb.search(expression=f"(sAMAccountName={name})", attrs=["dn"]):
        samdb.deleteuser(name)
    samdb.newuser(name, password, **kwargs)


@contextlib.contextmanager
def quiet_stderr():
    """Silence the expected 'Failed to bind' lines that libldb writes straight to fd 2."""
    saved = os.dup(2)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def lock_out(lp, realm_dns, name, password):
    """Make LOCKOUT_THRESHOLD+1 NTLM binds with a wrong password so the DC locks NAME."""
    for _ in range(LOCKOUT_THRESHOLD + 1):
        creds = Credentials()
        creds.guess(lp)
        creds.set_kerberos_state(DONT_USE_KERBEROS)
        creds.set_username(name)
        creds.set_domain(lp.get("workgroup"))
        creds.set_password(password + "-wrong")
        try:
            SamDB(url=f"ldap://dc1.{realm_dns}", credentials=creds, lp=lp)
        except ldb.LdbError:
            continue
        raise RuntimeError(f"a bind as {name} with a wrong password succeeded")


def account_flags(samdb, name):
    """msDS-User-Account-Control-Computed of NAME (lockout is computed, not stored)."""
    res = samdb.search(expression=f"(sAMAccountName={name})",
                       attrs=["msDS-User-Account-Control-Computed"])
    return int(res[0]["msDS-User-Account-Control-Computed"][0])


def main():
    env = read_env(sys.stdin)
    admin_pw, user_pw = env["QLAB_AD_ADMIN_PASSWORD"], env["QLAB_AD_USER_PASSWORD"]
    lp = LoadParm()
    lp.load_default()
    samdb = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
    realm_dns = lp.get("realm").lower()

    samdb.setpassword("(sAMAccountName=Administrator)", admin_pw, False, username="Administrator")
    # Domain default: no complexity, no ageing, lockout OFF (wrong-password tests lock no one).
    samba_tool("domain", "passwordsettings", "set", "--complexity=off", "--max-pwd-age=0",
               "--min-pwd-age=0", "--account-lockout-threshold=0", "--history-length=0")

    for name in ("renderproxy", "someuser", "winrmadmin", "disableduser", "expireduser", "lockeduser"):
        recreate_user(samdb, name, user_pw)
    recreate_user(samdb, "mustchange", user_pw, force_password_change_at_next_login_req=True)
    if samdb.search(expression=f"(&(objectClass=group)(sAMAccountName={GROUP}))", attrs=["dn"]):
        samdb.deletegroup(GROUP)
    samdb.newgroup(GROUP)
    samdb.add_remove_group_members(GROUP, ["renderproxy", "someuser"], add_members_operation=True)
    samdb.add_remove_group_members("Domain Admins", ["winrmadmin"], add_members_operation=True)
    samdb.disable_account("(sAMAccountName=disableduser)")
    samdb.setexpiry("(sAMAccountName=expireduser)", 0, no_expiry_req=False)

    # A fine-grained password policy with lockout that applies to lockeduser alone.
    subprocess.run(["samba-tool", "domain", "passwordsettings", "pso", "delete", LOCKOUT_PSO],
                   capture_output=True, check=False)
    samba_tool("domain", "passwordsettings", "pso", "create", LOCKOUT_PSO, "1",
               f"--account-lockout-threshold={LOCKOUT_THRESHOLD}", "--account-lockout-duration=600",
               "--reset-account-lockout-after=600", "--complexity=off", "--max-pwd-age=0",
               "--min-pwd-age=0", "--history-length=0")
    samba_tool("domain", "passwordsettings", "pso", "apply", LOCKOUT_PSO, "lockeduser")
    with quiet_stderr():
        lock_out(lp, realm_dns, "lockeduser", user_pw)
    if not account_flags(samdb, "lockeduser") & UF_LOCKOUT:
        raise RuntimeError("lockeduser is not locked out after bad binds")

    for line in ("renderproxy valid (renderers)", "someuser valid (renderers)", "winrmadmin valid (Domain Admins)",
                 "disableduser disabled", "expireduser expired", "mustchange must-change",
                 f"lockeduser locked (PSO {LOCKOUT_PSO}, threshold {LOCKOUT_THRESHOLD})"):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
