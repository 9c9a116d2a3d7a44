"""Desktop User mode: no worker until the desktop user logs in; it runs as that user; logout ends it."""
from molecule_lab import QB_BIN
from worker_checks import (DESKTOP_DIR, DESKTOP_USER, WAIT_FOR_SESSION_WORKER, assert_desktop_mode_idle,
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


def test_desktop_worker_folder_belongs_to_the_user_and_qb_conf_points_there(host):
    """CPR worker_logfile, worker_logpath, worker_journal_location, worker_pidfile: root's defaults."""
    worker_only(host)
    folder = host.file(DESKTOP_DIR)
    assert folder.is_directory and folder.user == DESKTOP_USER and folder.mode == 0o755
    parent = host.file("/var/spool/qube")
    assert parent.user == "root" and parent.mode == 0o755
    conf = host.file("/etc/qb.conf").content_string
    for line in ("worker_logfile = %s/workerlog" % DESKTOP_DIR, "worker_logpath = %s" % DESKTOP_DIR,
                 "worker_journal_location = %s/worker.jnl" % DESKTOP_DIR,
                 "worker_pidfile = %s/worker.pid" % DESKTOP_DIR):
        assert line in conf.splitlines(), conf


def test_desktop_worker_logs_to_its_folder_and_is_not_in_panic(host):
    """A real login starts the worker; it writes <dir>/workerlog and the supervisor lists it active."""
    worker_only(host)
    name = host.check_output("hostname")
    script = (WAIT_FOR_SESSION_WORKER +
              "for i in $(seq 40); do s=$(%(bin)s/qbhosts %(n)s | awk '$1 == \"%(n)s\" {print $2}'); "
              "[ \"$s\" = active ] && break; sleep 0.25; done; echo \"state=$s\"; "
              "stat -c 'log=%%U' %(dir)s/workerlog" % {"bin": QB_BIN, "n": name, "dir": DESKTOP_DIR})
    login = ssh_login(host, DESKTOP_USER, script)
    assert login.returncode == 0, login.stdout + login.stderr
    assert "state=active" in login.stdout.split(), login.stdout
    assert "log=%s" % DESKTOP_USER in login.stdout.split(), login.stdout
    log = host.file("%s/workerlog" % DESKTOP_DIR).content_string
    assert log.strip(), "the desktop worker wrote nothing to its workerlog"
    assert "panic" not in log, log[-2000:]
    assert wait_for_owners(host, [], timeout=30) == []
