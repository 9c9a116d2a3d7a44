"""How the STAND-IN worker runs one job as the right account.

Service mode (worker runs as root): ``proxy`` mode runs the job as ``proxy_account``
(``DOMAIN\\account`` when ``worker_host_domain`` is set, resolved through getpwnam like
winbind names), ``user`` mode as the submitter. The child gets its supplementary groups
(initgroups equivalent), gid and uid switched, NO login environment (minimal PATH, HOME
from passwd) and cwd ``/`` or the home when it exists. Desktop User mode (worker runs
as a normal user): every job runs as that user, without re-authenticating.
"""

from __future__ import annotations

import os
import pwd
import subprocess

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"


class IdentityError(LookupError):
    """The account a job should run as does not exist on this host."""


def proxy_account_name(config: dict[str, str]) -> str:
    """The name looked up for the proxy account, with the domain when configured."""
    account = config.get("proxy_account", "qubeproxy") or "qubeproxy"
    domain = config.get("worker_host_domain", "")
    return f"{domain}\\{account}" if domain else account


def job_account(config: dict[str, str], submitter: str, service_mode: bool) -> pwd.struct_passwd:
    """Resolve the passwd entry a job runs as (raises IdentityError)."""
    if not service_mode:
        return pwd.getpwuid(os.getuid())
    mode = config.get("proxy_execution_mode", "proxy")
    name = submitter if mode == "user" else proxy_account_name(config)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise IdentityError(f"account {name!r} ({mode} mode) does not exist on this host") from None


def job_log_paths(logpath: str, job_id: int, sub_id: int = 0) -> tuple[str, str]:
    """``<logpath>/job/<id//1000*1000>/<id>/<id>_<sub>.out`` and ``.err``."""
    folder = os.path.join(logpath, "job", str(job_id // 1000 * 1000), str(job_id))
    os.makedirs(folder, mode=0o755, exist_ok=True)
    base = os.path.join(folder, f"{job_id}_{sub_id}")
    return base + ".out", base + ".err"


def start(command: str, account: pwd.struct_passwd, out_path: str, err_path: str,
          service_mode: bool, proxy: str = "") -> subprocess.Popen:
    """Start ``/bin/sh -c command`` as ``account`` with stdout/stderr in the files.

    In service mode the job goes through the proxy program (``proxy_location``), which the
    stand-in's ``proxy`` simply execs into the command.
    """
    home = account.pw_dir
    cwd = home if home and os.path.isdir(home) else "/"
    if service_mode:
        env = {"PATH": MINIMAL_PATH, "HOME": home, "USER": account.pw_name, "LOGNAME": account.pw_name}
        switch = {"user": account.pw_uid, "group": account.pw_gid,
                  "extra_groups": os.getgrouplist(account.pw_name, account.pw_gid)}
    else:
        env, switch = dict(os.environ), {}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        if service_mode:
            os.chown(out_path, account.pw_uid, account.pw_gid)
            os.chown(err_path, account.pw_uid, account.pw_gid)
        argv = ([proxy] if service_mode and proxy else []) + ["/bin/sh", "-c", command]
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, cwd=cwd, env=env, start_new_session=True, **switch)
