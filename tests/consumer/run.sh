#!/usr/bin/env bash
# Consumer test: the collection as a studio uses it, from the built artifact, in an empty
# project folder outside the checkout, with the project's own ansible.cfg and inventory.
#   1. ansible-galaxy collection install <artifact> into the project (--no-deps: ansible.windows,
#      community.windows and community.general come from the pinned `ansible` package, as
#      docs/installing.md describes; Galaxy is not reached);
#   2. two lab hosts (a supervisor with the Qube! stand-in, a worker), octets 240-241;
#   3. ansible-playbook renderfarm.qube.site: converge; the farm report from the callback the
#      project's ansible.cfg enables (complete, every host ok, the worker validated);
#   4. the same command again: the report shows 0 changed tasks on every host and the worker left
#      out of the batches as converged (validation skipped, its earlier proof shown).
# Only this test's own hosts are destroyed at the end (the lab is shared).
# Usage (from anywhere): tests/consumer/run.sh [ARTIFACT]   (default build/renderfarm-qube-<version>.tar.gz)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export QLAB_DIR=${QLAB_DIR:-/var/lib/qube-lab}
lab=$here/tests/lab/lab.sh
venv_bin=$here/.venv/bin
version=$("$venv_bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$here/galaxy.yml")
artifact=$(realpath "${1:-$here/build/renderfarm-qube-$version.tar.gz}")
[[ -f $artifact ]] || { echo "consumer: no artifact $artifact (run scripts/test.sh build first)" >&2; exit 1; }

# Section names in qbwrk.conf allow only letters, digits and _: so do these host names.
SUP=qconsup
WORKER=qconw1
hosts=("$SUP" "$WORKER")
project=$(mktemp -d /tmp/qube-consumer.XXXXXX)

cleanup() {
  QLAB_STOP_GRACE=10 "$lab" destroy "${hosts[@]}" >/dev/null 2>&1 || true
  if [[ ${KEEP_CONSUMER_PROJECT:-} == 1 ]]; then echo "consumer: project kept in $project"; else rm -rf "$project"; fi
}
trap cleanup EXIT

echo "consumer: project $project, artifact $(basename "$artifact")"
cd "$project"
# Nothing from the checkout may leak in: no ANSIBLE_* from the caller, no ansible.cfg of ours.
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(ANSIBLE_[A-Z_]*\)=.*/\1/p')

mkdir -p collections inventory/group_vars reports
cat > ansible.cfg <<EOF
[defaults]
collections_path = ./collections
inventory = ./inventory/hosts.yml
callbacks_enabled = renderfarm.qube.qube_report
interpreter_python = /usr/bin/python3
host_key_checking = False
retry_files_enabled = False

[qube_report]
report_dir = ./reports

[ssh_connection]
pipelining = True
EOF
# With the project's ansible.cfg in place, so that a copy under ~/.ansible/collections (molecule
# and ansible-lint leave some there) neither satisfies the install nor is used by the runs.
"$venv_bin/ansible-galaxy" collection install --force --no-deps -p ./collections "$artifact"
test -f collections/ansible_collections/renderfarm/qube/MANIFEST.json

cat > inventory/hosts.yml <<EOF
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: $QLAB_DIR/ssh/id_ed25519
  children:
    qube_supervisors:
      hosts:
        $SUP:
          ansible_host: 10.88.0.240
    qube_workers:
      hosts:
        $WORKER:
          ansible_host: 10.88.0.241
EOF

cat > inventory/group_vars/qube_workers.yml <<EOF
qube_supervisor: $SUP
qube_worker_mode: service
# The lab has no package repository: the stand-in package file from the controller.
qube_worker_package_files:
  - $QLAB_DIR/packages/qube-standin_8.0.0~standin1_all.deb
qube_worker_packages: [qube-standin]
qube_proxy_execution_mode: proxy
qube_proxy_account: renderproxy
# TEST-ONLY password of a throwaway lab account (a real farm takes it from its vault).
qube_proxy_password: qube-consumer-test-only-P4
qube_validate_via_qube: true
EOF

echo "consumer: lab hosts $SUP (10.88.0.240, supervisor) and $WORKER (10.88.0.241)"
"$lab" base >/dev/null
"$lab" destroy "${hosts[@]}" >/dev/null 2>&1 || true
"$lab" create "$SUP" 240
"$lab" create "$WORKER" 241
"$lab" start "${hosts[@]}"
"$lab" install-standin "$SUP"

# The project's own ansible.cfg is in the current folder; lab.sh exec runs the command in the
# lab's network namespace with the venv's bin/ first on PATH.
run_site() {
  local log=$1
  local rc=0
  "$lab" exec "$venv_bin/ansible-playbook" renderfarm.qube.site > "$log" 2>&1 || rc=$?
  sed -n '/PLAY RECAP/,$p' "$log"
  return "$rc"
}

# check_report RUN MAX_CHANGED VALIDATION: the callback's JSON is complete, every host ok, the
# worker in sync and validated in this run (passed), or left out of the batches as converged with
# the earlier proof shown (converged), and (for the second run) no host changed anything.
check_report() {
  "$venv_bin/python" - "$project/reports/qube-report.json" "$1" "$2" "$WORKER" "$SUP" "$3" <<'PY'
import json, os, sys
path, run, max_changed, worker, supervisor, validation = sys.argv[1:7]
with open(path) as handle:
    report = json.load(handle)
problems = []
if not os.path.exists(os.path.join(os.path.dirname(path), "qube-report.html")):
    problems.append("no qube-report.html beside the JSON report")
if not report.get("complete"):
    problems.append("the report is not complete")
rows = {row["host"]: row for row in report.get("hosts", [])}
for host in (worker, supervisor):
    if host not in rows:
        problems.append("no report row for %s" % host)
for host, row in sorted(rows.items()):
    # The inventory's hosts must be ok; the controller's row (localhost, which runs only the
    # preflight) must not have failed.
    if row.get("status") != "ok" and (host != "localhost" or row.get("status") in ("failed", "unreachable")):
        problems.append("%s: status %s" % (host, row.get("status")))
    if max_changed != "any" and int(row.get("changed", 0)) > int(max_changed):
        problems.append("%s: %s changed tasks" % (host, row.get("changed")))
row = rows.get(worker, {})
if validation == "passed" and row.get("validation") != "passed":
    problems.append("%s: validation %s" % (worker, row.get("validation")))
if validation == "converged" and not (row.get("validation") == "skipped" and row.get("validated_at")
                                      and row.get("validation_detail", "").startswith("converged: nothing changed")):
    problems.append("%s: not left out as converged: validation %s, %s" % (
        worker, row.get("validation"), row.get("validation_detail")))
if row.get("config_state") != "in_sync":
    problems.append("%s: config_state %s" % (worker, row.get("config_state")))
print("consumer %s run: %s" % (run, report.get("summary_line", "")))
for host, row in sorted(rows.items()):
    print("  %-10s status=%s mode=%s identity=%s config=%s validation=%s changed=%s" % (
        host, row.get("status"), row.get("mode"), row.get("job_identity"), row.get("config_state"),
        row.get("validation"), row.get("changed")))
if problems:
    sys.exit("consumer %s run: %s" % (run, "; ".join(problems)))
PY
}

echo "consumer: first run (converge)"
run_site "$project/run1.log" || { tail -40 "$project/run1.log"; exit 1; }
check_report first any passed

echo "consumer: second run (must change nothing)"
run_site "$project/run2.log" || { tail -40 "$project/run2.log"; exit 1; }
check_report second 0 converged
echo "consumer: passed"
