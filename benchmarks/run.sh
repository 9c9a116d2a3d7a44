#!/usr/bin/env bash
# benchmarks/run.sh N: site.yml against Ansible's floor on N fresh lab workers (make benchmark N=10).
# benchmarks/run.sh suite: the whole issue-#17 benchmark in one run (make benchmark-suite): 60 fresh
#   workers; floor and site.yml converge + re-run over bw01..bw10 (N=10), then over bw11..bw60 (N=50),
#   each phase a --limit of the one 60-worker inventory (the supervisor's sections of the other workers
#   are kept, as for job slices); then the floor and site.yml re-run over all 60 and 3 slices of 20
#   re-run at the same time. Writes results-10.json, results-50.json, results-60.json (-TAG) and prints
#   one table of the three (summarize.py --table).
#
# Creates its own lab hosts (supervisor bsup at .30, workers bw01..bwNN at .31..), never touches
# other hosts, and destroys its hosts at the end. Measures, side by side, with cold ssh masters
# before every run: the floor (benchmarks/floor.yml) converge and re-run, site.yml converge from
# fresh hosts and its idempotent re-run (asserts changed=0). Per run: wall time, controller CPU,
# peak RSS of the largest controller process (/usr/bin/time) and of the whole controller (memory
# cgroup), task results per worker and time per task (callback_plugins/bench_profile.py).
# Writes benchmarks/results-N.json and prints the ratios to the floor.
#
# Environment: BENCH_TREE   tree whose site.yml, ansible.cfg and collection run (default: this
#                           repository; point it at a scratch copy to measure a proposed change)
#              BENCH_TAG    suffix of the results file (results-N[-TAG].json)
#              BENCH_VARS   YAML file appended to the workers' group_vars (e.g. qube_serial: 100%)
#              BENCH_SITE_ARGS extra ansible-playbook arguments for the site.yml runs only (e.g.
#                           "-e qube_serial=100%": serial is a play keyword, group_vars cannot set it)
#              BENCH_SLICES=K after the re-run, K re-runs at the same time, each over one slice of the
#                           workers (--limit localhost:bsup:<N/K workers>), as AWX job slices or a
#                           workflow of limited job templates would run them; summed controller CPU
#                           and wall time beside the one re-run over all N
#              BENCH_SUITE phase sizes of run.sh suite (default "10 50"; "1 2" is a quick smoke run)
#              BENCH_KEEP=1 keep the hosts and the work directory (for inspection)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB=$REPO/tests/lab/lab.sh
VENV_BIN=$REPO/.venv/bin
QLAB_DIR=${QLAB_DIR:-/var/lib/qube-lab}
TREE=${BENCH_TREE:-$REPO}
TAG=${BENCH_TAG:+-$BENCH_TAG}
SUP_OCTET=30          # this benchmark's octet range is 30..99: bsup .30, bwNN .(30+NN)
MAX_WORKERS=69

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

N=${1:-}
SUITE=0
read -r -a SUITE_SIZES <<< "${BENCH_SUITE:-10 50}"
if [[ $N == suite ]]; then
    SUITE=1 N=0
    for size in "${SUITE_SIZES[@]}"; do N=$(( N + size )); done
fi
if [[ ! $N =~ ^[0-9]+$ ]] || (( N < 1 || N > MAX_WORKERS )); then die "usage: run.sh N (1..$MAX_WORKERS workers) | run.sh suite"; fi
[[ $EUID -eq 0 ]] || die "run.sh must run as root (the lab needs it)"
[[ -x $VENV_BIN/ansible-playbook ]] || die "no $VENV_BIN/ansible-playbook; run 'make venv'"

WORKERS=()
for (( i = 1; i <= N; i++ )); do WORKERS+=("$(printf 'bw%02d' "$i")"); done
HOSTS=(bsup "${WORKERS[@]}")
WORK=$(mktemp -d /tmp/qbench.XXXXXX)
chmod 700 "$WORK"
mkdir -p "$WORK/cp" "$WORK/inventory/group_vars" "$WORK/reports"
PHASE=run
OUT=$WORK   # where timed/timed_slices leave their figures (one directory per phase in a suite)
MEMCG_PARENT=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)

# lab_retry ARGS...: lab.sh ARGS, retried twice. lab.sh create/start can fail transiently when
# another session destroys its hosts at the same moment (a host vanishes while the shared hosts
# file is rewritten); the commands are idempotent, so a retry is safe.
lab_retry() {
    local attempt
    for attempt in 1 2 3; do
        "$LAB" "$@" >/dev/null && return 0
        log "lab.sh $1 failed (attempt $attempt); retrying"
        sleep 2
    done
    die "lab.sh $* failed three times"
}

close_masters() {
    local sock
    for sock in "$WORK"/cp/*; do
        if [[ -S $sock ]]; then ssh -o ControlPath="$sock" -O exit bench-master >/dev/null 2>&1 || true; fi
    done
}

cleanup() {
    local rc=$?
    (( rc == 0 )) || log "stopped with exit code $rc; removing the benchmark hosts"
    close_masters
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        log "kept hosts ${HOSTS[*]} and $WORK"
    else
        "$LAB" destroy "${HOSTS[@]}" >/dev/null 2>&1 || log "destroy failed; run: $LAB destroy ${HOSTS[*]}"
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

write_inventory() {
    local i
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/proxy-password"
    chmod 600 "$WORK/proxy-password"
    {
        printf 'all:\n  vars:\n    ansible_user: root\n'
        printf '    ansible_ssh_private_key_file: %s/ssh/id_ed25519\n' "$QLAB_DIR"
        printf '    ansible_python_interpreter: /usr/bin/python3\n'
        printf '    ansible_ssh_common_args: >-\n      -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=%s/cp/%%C\n' "$WORK"
        printf '      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n'
        printf '  children:\n    qube_supervisors:\n      hosts:\n        bsup:\n          ansible_host: 10.88.0.%d\n' "$SUP_OCTET"
        printf '    qube_workers:\n      hosts:\n'
        for (( i = 1; i <= N; i++ )); do
            printf '        %s:\n          ansible_host: 10.88.0.%d\n' "${WORKERS[i-1]}" $(( SUP_OCTET + i ))
        done
    } > "$WORK/inventory/hosts.yml"
    # Same farm settings as inventories/lab (service mode, local proxy account, stand-in deb),
    # except qube_serial: the site default (25%) is what a farm of this size runs with.
    cat > "$WORK/inventory/group_vars/all.yml" <<YAML
qube_supervisor: bsup
qube_domain: qube
qube_templates:
  lab_render:
    worker_groups: "lab,linux_render"
    worker_cluster: /lab
    worker_description: "lab render node"
YAML
    cat > "$WORK/inventory/group_vars/qube_workers.yml" <<YAML
qube_worker_mode: service
qube_worker_package_files: ["$QLAB_DIR/packages/qube-standin_8.0.0~standin1_all.deb"]
qube_worker_packages: [qube-standin]
qube_worker_templates: [lab_render]
qube_worker_cpus: 2
qube_worker_flags: [dynamic]
qube_proxy_execution_mode: proxy
qube_proxy_account: qubeproxy
qube_proxy_password: "{{ lookup('ansible.builtin.file', '$WORK/proxy-password') }}"
qube_validation_paths: [/srv/renders]
qube_validate_via_qube: true
YAML
    if [[ -n ${BENCH_VARS:-} ]]; then cat "$BENCH_VARS" >> "$WORK/inventory/group_vars/qube_workers.yml"; fi
}

# timed NAME PLAYBOOK [ARGS...]: one ansible-playbook run with cold ssh masters, in its own memory cgroup.
timed() {
    local name=$1 playbook=$2 cg=$MEMCG_PARENT/qbench-$$-${PHASE}-$1 rc=0
    shift 2
    close_masters
    mkdir "$cg"
    cat /proc/loadavg > "$OUT/$name.load"
    log "$name: $playbook"
    (
        echo "$BASHPID" > "$cg/cgroup.procs"
        cd "$TREE"
        export ANSIBLE_CALLBACK_PLUGINS=$REPO/benchmarks/callback_plugins
        export ANSIBLE_CALLBACKS_ENABLED=renderfarm.qube.qube_report,bench_profile
        export BENCH_PROFILE_OUT=$OUT/$name.profile.json QUBE_REPORT_DIR=$OUT/reports
        # This benchmark's own fact cache: empty for the converge of fresh hosts, kept for the re-run.
        export ANSIBLE_CACHE_PLUGIN_CONNECTION=$WORK/facts
        exec /usr/bin/time -f '%e %U %S %M' -o "$OUT/$name.time" \
            "$LAB" exec "$VENV_BIN/ansible-playbook" -i "$WORK/inventory" "$@" "$playbook"
    ) > "$OUT/$name.log" 2>&1 || rc=$?
    cat /proc/loadavg >> "$OUT/$name.load"
    cat "$cg/memory.max_usage_in_bytes" > "$OUT/$name.memcg"
    close_masters
    sleep 0.5
    rmdir "$cg" 2>/dev/null || log "$name: memory cgroup $cg still busy; left in place"
    (( rc == 0 )) || { tail -n 40 "$OUT/$name.log" >&2; die "$name failed (rc=$rc); log above"; }
}

# timed_slices NAME K PLAYBOOK [ARGS...]: K runs at the same time, each over one contiguous slice of
# the workers, in one memory cgroup; per slice NAME.I.time and NAME.I.profile.json, NAME.wall for all.
timed_slices() {
    local name=$1 k=$2 playbook=$3 cg=$MEMCG_PARENT/qbench-$$-${PHASE}-$1 rc=0 i first last size started
    local -a pids=()
    shift 3
    close_masters
    mkdir "$cg"
    cat /proc/loadavg > "$OUT/$name.load"
    size=$(( (N + k - 1) / k ))
    started=$(date +%s.%N)
    for (( i = 1; i <= k; i++ )); do
        first=$(( (i - 1) * size )); last=$(( i * size < N ? i * size : N ))
        local limit="localhost:bsup:$(IFS=:; echo "${WORKERS[*]:first:last-first}")"
        log "$name slice $i: --limit $limit"
        (
            echo "$BASHPID" > "$cg/cgroup.procs"
            cd "$TREE"
            export ANSIBLE_CALLBACK_PLUGINS=$REPO/benchmarks/callback_plugins
            export ANSIBLE_CALLBACKS_ENABLED=renderfarm.qube.qube_report,bench_profile
            export BENCH_PROFILE_OUT=$OUT/$name.$i.profile.json QUBE_REPORT_DIR=$OUT/reports/slice-$i
            export ANSIBLE_CACHE_PLUGIN_CONNECTION=$WORK/facts
            exec /usr/bin/time -f '%e %U %S %M' -o "$OUT/$name.$i.time" \
                "$LAB" exec "$VENV_BIN/ansible-playbook" -i "$WORK/inventory" --limit "$limit" "$@" "$playbook"
        ) > "$OUT/$name.$i.log" 2>&1 &
        pids+=("$!")
    done
    for i in "${!pids[@]}"; do wait "${pids[i]}" || { rc=$?; tail -n 40 "$OUT/$name.$(( i + 1 )).log" >&2; }; done
    echo "$(date +%s.%N) $started" | awk '{ printf "%.2f\n", $1 - $2 }' > "$OUT/$name.wall"
    cat /proc/loadavg >> "$OUT/$name.load"
    cat "$cg/memory.max_usage_in_bytes" > "$OUT/$name.memcg"
    close_masters
    sleep 0.5
    rmdir "$cg" 2>/dev/null || log "$name: memory cgroup $cg still busy; left in place"
    (( rc == 0 )) || die "$name: a slice failed (rc=$rc); log above"
}

for host in "${HOSTS[@]}"; do
    [[ ! -f $QLAB_DIR/machines/$host/meta ]] || die "$host exists already (an earlier run?); '$LAB destroy $host' first"
done
log "creating ${#HOSTS[@]} hosts (octets $SUP_OCTET..$(( SUP_OCTET + N )))"
lab_retry create bsup "$SUP_OCTET"
for (( i = 1; i <= N; i++ )); do
    lab_retry create "${WORKERS[i-1]}" $(( SUP_OCTET + i ))
    # What a studio's provisioning already gives a worker (as tests/lab/prepare-demo.yml does):
    # the render share the validation job writes to. Not part of any measured run.
    install -d -m 1777 "$QLAB_DIR/machines/${WORKERS[i-1]}/root/srv/renders"
done
lab_retry start "${HOSTS[@]}"
lab_retry install-standin bsup
write_inventory

read -r -a SITE_ARGS <<< "${BENCH_SITE_ARGS:-}"
COMMAND="${BENCH_SLICES:+BENCH_SLICES=$BENCH_SLICES }benchmarks/run.sh $1${BENCH_TREE:+ BENCH_TREE=$BENCH_TREE}${BENCH_VARS:+ BENCH_VARS=$BENCH_VARS}${BENCH_SITE_ARGS:+ BENCH_SITE_ARGS=\"$BENCH_SITE_ARGS\"}"

# summarize WORKERS [ARGS...]: results-WORKERS(-TAG).json from the current phase's figures.
summarize() {
    local workers=$1
    shift
    "$VENV_BIN/python" "$REPO/benchmarks/summarize.py" "$OUT" "$workers" "$REPO/benchmarks/results-$workers$TAG.json" \
        --tree "$TREE" --command "$COMMAND" ${BENCH_VARS:+--vars "$BENCH_VARS"} "$@"
}

# phase NAME FIRST LAST: floor and site.yml converge, then re-run, over workers FIRST..LAST (1-based)
# of the inventory, as a --limit (site.yml's limit keeps localhost and the supervisor in the run).
phase() {
    local first=$1 last=$2 workers
    PHASE=n$(( last - first + 1 ))
    OUT=$WORK/$PHASE
    mkdir -p "$OUT"
    workers=$(IFS=:; echo "${WORKERS[*]:first-1:last-first+1}")
    log "phase $PHASE: workers ${WORKERS[first-1]}..${WORKERS[last-1]}"
    timed floor_converge "$REPO/benchmarks/floor.yml" --limit "$workers"
    timed floor_idempotent "$REPO/benchmarks/floor.yml" --limit "$workers"
    timed site_converge "$TREE/site.yml" --limit "localhost:bsup:$workers" "${SITE_ARGS[@]}"
    timed site_idempotent "$TREE/site.yml" --limit "localhost:bsup:$workers" "${SITE_ARGS[@]}"
    summarize $(( last - first + 1 )) || SUITE_RC=1
}

if (( SUITE )); then
    SUITE_RC=0
    first=1
    tables=()
    for size in "${SUITE_SIZES[@]}"; do
        phase "$first" $(( first + size - 1 ))
        tables+=("$REPO/benchmarks/results-$size$TAG.json")
        first=$(( first + size ))
    done
    PHASE=n$N
    OUT=$WORK/$PHASE
    mkdir -p "$OUT"
    log "phase $PHASE: every worker converged; the floor and site.yml re-run over all $N, then 3 slices"
    timed floor_idempotent "$REPO/benchmarks/floor.yml"
    timed site_idempotent "$TREE/site.yml" "${SITE_ARGS[@]}"
    timed_slices site_slices 3 "$TREE/site.yml" "${SITE_ARGS[@]}"
    summarize "$N" --rerun-only --slices 3 || SUITE_RC=1
    "$VENV_BIN/python" "$REPO/benchmarks/summarize.py" --table "${tables[@]}" "$REPO/benchmarks/results-$N$TAG.json"
    exit "$SUITE_RC"
fi

timed floor_converge "$REPO/benchmarks/floor.yml"
timed floor_idempotent "$REPO/benchmarks/floor.yml"
timed site_converge "$TREE/site.yml" "${SITE_ARGS[@]}"
timed site_idempotent "$TREE/site.yml" "${SITE_ARGS[@]}"
if [[ -n ${BENCH_SLICES:-} ]]; then
    timed_slices site_slices "$BENCH_SLICES" "$TREE/site.yml" "${SITE_ARGS[@]}"
fi
summarize "$N" ${BENCH_SLICES:+--slices "$BENCH_SLICES"}
