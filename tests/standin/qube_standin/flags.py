"""Flag lists and policies the STAND-IN reads from qb.conf, checked strictly against the vendor lists.

* job flags (``qbsub --flags``, ``client_job_flags``, ``supervisor_job_flags``): the names in
  CLI/qbsub.md and CPR supervisor_job_flags.md; both pages give a "flagslist", so names only.
* ``supervisor_flags``: the names in CPR supervisor_flags.md. The page allows an integer mask
  too but documents no bit values, so the stand-in refuses a mask rather than guess.
* ``supervisor_host_policy``: open | restricted | restrictedbyname | restrictedbyaddress.
"""

from __future__ import annotations

JOB_FLAGS = (  # vendor table order
    "auto_mount", "auto_wrangling", "convert_path", "disable_auto_complete", "disable_cpu_limit",
    "disable_windows_job_object", "elite", "export_environment", "expand", "grid", "host_list", "mail",
    "migrate_on_frame_retry", "no_defaults", "p_agenda", "uninterruptible",
)
SUPERVISOR_FLAGS = ("disable_submit_check", "enforce_password", "host_recontact", "heartbeat_monitor",
                    "running_monitor", "stub_optimize", "remove_logs", "retry_busy")
HOST_POLICIES = ("open", "restricted", "restrictedbyname", "restrictedbyaddress")
DEFAULTS = {
    "client_job_flags": "auto_mount",
    "supervisor_job_flags": "auto_mount",
    "supervisor_flags": "host_recontact,heartbeat_monitor,running_monitor,retry_busy",
    "supervisor_host_policy": "open",
}


class FlagError(ValueError):
    """A flag list or policy value the product does not document."""


def parse_list(key: str, value: str, known: tuple[str, ...]) -> list[str]:
    """Comma-separated flag names -> list in the vendor's order (raises FlagError naming the bad name)."""
    names = [n.strip() for n in value.strip().strip('"').split(",") if n.strip()]
    for name in names:
        if name.isdigit():
            raise FlagError(f"{key}: integer masks are not supported by the stand-in ({name!r}); "
                            "list the flag names")
        if name not in known:
            raise FlagError(f"{key}: unknown flag {name!r} (known: {', '.join(known)})")
    return [n for n in known if n in names]


def job_flags(key: str, value: str) -> list[str]:
    return parse_list(key, value, JOB_FLAGS)


def setting(conf: dict[str, str], key: str) -> str:
    return conf.get(key, DEFAULTS[key])


def host_policy(value: str) -> str:
    policy = value.strip().strip('"')
    if policy not in HOST_POLICIES:
        raise FlagError(f"supervisor_host_policy: unknown policy {policy!r} (known: {', '.join(HOST_POLICIES)})")
    return policy


def check_conf(conf: dict[str, str]) -> None:
    """Validate every flag list and policy present in a qb.conf dict (raises FlagError)."""
    for key in ("client_job_flags", "supervisor_job_flags"):
        if key in conf:
            job_flags(key, conf[key])
    if "supervisor_flags" in conf:
        parse_list("supervisor_flags", conf["supervisor_flags"], SUPERVISOR_FLAGS)
    if "supervisor_host_policy" in conf:
        host_policy(conf["supervisor_host_policy"])
