"""The AD proxy account of the leak test: an account on the shared lab DC whose password is a canary.

dc1 (10.88.0.5, ``tests/lab/dc.sh``) is shared with other sessions: it is provisioned only when
none is running (and then left running for them), and only this test's own account ``lkproxy``
is created and deleted on it. The canary reaches the DC on stdin, never in a command line.
"""

import os
import shlex
import subprocess

from .canary import CANARIES
from .lab import QLAB_DIR, REPO, LabHost, ad_env, lab

DC = LabHost("dc1", 5)
DOMAIN, REALM = "MYCORP", "MYCORP.TEST"
ACCOUNT = "lkproxy"
DC_CA = os.path.join(QLAB_DIR, "dc-ca.pem")

# Runs on dc1 as root; reads the password from stdin (samba's own Python API, as guest/ad_users.py).
_ACCOUNT_PY = """
import sys
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
lp = LoadParm()
lp.load_default()
db = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
name, password = sys.argv[1], sys.stdin.readline().rstrip("\\n")
if db.search(expression="(sAMAccountName=%s)" % name, attrs=["dn"]):
    db.deleteuser(name)
if password:
    db.newuser(name, password)
print("%s %s" % (name, "created" if password else "deleted"))
"""


def dc_running() -> bool:
    return any(line.split()[:1] == ["dc1"] and line.split()[-1:] == ["running"] for line in lab("status").splitlines())


def ensure_dc() -> bool:
    """Provision dc1 when none is running; True when this call provisioned it."""
    if dc_running():
        return False
    subprocess.run([os.path.join(REPO, "tests", "lab", "dc.sh"), "provision"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=600, check=True)
    return True


def dc_stamp():
    """When dc1 was last provisioned (every `dc.sh provision` rewrites the CA file)."""
    return os.stat(DC_CA).st_mtime if os.path.exists(DC_CA) else None


def create_account() -> None:
    """(Re)create MYCORP\\lkproxy with the AD canary as its password."""
    out = DC.run("python3 -c %s %s" % (shlex.quote(_ACCOUNT_PY), ACCOUNT), stdin=(CANARIES["ad"] + "\n").encode())
    assert b"created" in out, out


def delete_account() -> None:
    DC.run("python3 -c %s %s" % (shlex.quote(_ACCOUNT_PY), ACCOUNT), stdin=b"\n", check=False)


def join(host: LabHost) -> None:
    """Join ``host`` (layer ad) to the domain with tests/lab/ad-join.sh (password on stdin)."""
    proc = subprocess.run([os.path.join(REPO, "tests", "lab", "ad-join.sh"), host.name], input=ad_env()["QLAB_AD_ADMIN_PASSWORD"] + "\n",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError("ad-join.sh %s failed: %s" % (host.name, proc.stderr[-1500:]))
    resolved = host.run("for i in $(seq 40); do getent passwd '%s\\%s' && break; sleep 0.25; done; true"
                        % (DOMAIN, ACCOUNT)).decode()
    assert resolved.startswith("%s\\%s:" % (DOMAIN, ACCOUNT)), "%s does not resolve on %s: %r" % (ACCOUNT, host.name, resolved)


def inventory_vars(vaulted) -> dict:
    """Host variables of the AD worker (``vaulted`` wraps the canary as an inline !vault value)."""
    return {"qube_worker_mode": "service", "qube_proxy_account": ACCOUNT, "qube_worker_host_domain": DOMAIN,
            "qube_proxy_password": vaulted(CANARIES["ad"]),
            "qube_ad_check": {"server": "dc1.mycorp.test", "realm": REALM, "ca_file": DC_CA}}
