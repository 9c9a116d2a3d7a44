"""Desktop User mode: no worker until the desktop user logs in; it runs as that user; logout ends it."""
from worker_checks import (DESKTOP_USER, WAIT_FOR_SESSION_WORKER, assert_desktop_mode_idle,
                           job_command, ssh_login, wait_for_owners, worker_only, worker_owners)


def test_nothing_runs_before_login(host):
    worker_only(host)
    assert_desktop_mode_idle(host)
    assert host.run("systemctl is-active user@%d.service" % host.user(DESKTOP_USER).uid).rc != 0


def test_other_users_do_not_start_the_worker(host):
    """ConditionUser= keeps the globally enabled unit to the desktop user only."""
    worker_only(host)
    login = ssh_login(host, "root", "systemctl --user is-active qube-desktop-worker.service; true")
    assert login.stdout.strip() == "inactive", login.stdout + login.stderr
    assert DESKTOP_USER not in worker_owners(host)


def test_login_starts_the_worker_and_jobs_run_as_the_user(host):
    worker_only(host)
    name = host.check_output("hostname")
    script = (WAIT_FOR_SESSION_WORKER + "systemctl --user is-active qube-desktop-worker.service; "
              "ps -o user= -C worker; " + job_command(name, "id -un"))
    login = ssh_login(host, DESKTOP_USER, script)
    assert login.returncode == 0, login.stderr
    lines = login.stdout.split()
    assert lines[0] == "active"
    assert lines[1] == DESKTOP_USER            # owner of the worker process
    assert lines[-1] == DESKTOP_USER           # the job's `id -un`


def test_logout_ends_the_worker(host):
    worker_only(host)
    # logind stops the user manager UserStopDelaySec (default 10 s) after the last session ends.
    assert wait_for_owners(host, [], timeout=30) == []
    assert_desktop_mode_idle(host)
