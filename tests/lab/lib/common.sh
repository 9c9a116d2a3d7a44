# shellcheck shell=bash
# Shared settings and helpers for the qube lab (test equipment, never shipped).
# Sourced by lab.sh, dc.sh and ad-join.sh; defines no behaviour on its own.

QLAB_DIR=${QLAB_DIR:-/var/lib/qube-lab}
QLAB_NS=qlab                      # network namespace holding the bridge and every veth
QLAB_BR=qlabbr0                   # lab bridge, 10.88.0.1/24 = the controller's address
QLAB_NET=10.88.0
QLAB_CONTROLLER_IP=$QLAB_NET.1
QLAB_AD_DOMAIN=mycorp.test        # DNS domain of the lab's Samba AD (hosts of the ad/dc layers)
QLAB_KEY=$QLAB_DIR/ssh/id_ed25519
QLAB_CP_DIR=$QLAB_DIR/cp          # ssh ControlPath directory used by the lab inventory
QLAB_HOSTS_FILE=$QLAB_DIR/hosts   # bind-mounted read-only as /etc/hosts into every host
QLAB_MACHINES=$QLAB_DIR/machines  # one directory per host: upper/ work/ root/ meta pid console.log
QLAB_IMAGES=$QLAB_DIR/images
QLAB_NSPAWN_TMPFS=/run/systemd/nspawn
QLAB_CG_NAME=qlab                 # our directory in the systemd and unified cgroup hierarchies

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command inside the lab network namespace (safe for ssh, ip, ss; NOT for nspawn).
in_ns() { nsenter --net="/run/netns/$QLAB_NS" -- "$@"; }

# A process in the host's root mount namespace whose namespace files we may open: PID 1 when
# it allows (on this VM it holds capabilities we lack, so it does not), else kthreadd, else the
# nearest ancestor that sees the named systemd cgroup hierarchy.
root_mount_ns_pid() {
    local pid
    for pid in 1 2; do
        if [[ -r /proc/$pid/ns/mnt && -d /proc/$pid/root/sys/fs/cgroup/systemd ]] &&
           readlink "/proc/$pid/ns/mnt" >/dev/null 2>&1; then
            echo "$pid"; return 0
        fi
    done
    pid=$PPID
    while (( pid > 1 )); do
        if [[ -d /proc/$pid/root/sys/fs/cgroup/systemd ]]; then echo "$pid"; return 0; fi
        pid=$(awk '/^PPid:/{print $2}' "/proc/$pid/status")
    done
    die "cannot find the root mount namespace"
}

# Re-exec the calling script in the root mount namespace when it was started under
# `ip netns exec` (which remounts /sys and hides the named systemd cgroup hierarchy that
# systemd-nspawn needs). The network namespace is kept.
reexec_in_root_mount_ns() {
    local script=$1; shift
    if [[ ! -d /sys/fs/cgroup/systemd && -z ${QLAB_REEXECED:-} ]]; then
        export QLAB_REEXECED=1
        exec nsenter --mount="/proc/$(root_mount_ns_pid)/ns/mnt" -- "$script" "$@"
    fi
}

# ssh options shared by lab.sh, dc.sh, ad-join.sh; reuses an inventory ControlMaster if one is
# open but never creates one, so stopping a host is not delayed by a lingering master.
qlab_ssh_opts() {
    printf '%s\n' -i "$QLAB_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o ConnectTimeout=3 -o ControlMaster=no -o "ControlPath=$QLAB_CP_DIR/%C"
}

# Address of a created host, from its meta file.
host_ip() {
    local meta=$QLAB_MACHINES/$1/meta
    [[ -f $meta ]] || die "no such lab host: $1"
    printf '%s.%s\n' "$QLAB_NET" "$(sed -n 's/^octet=//p' "$meta")"
}

# ssh to a lab host as root from inside the lab namespace: qssh NAME [CMD...]
qssh() {
    local name=$1; shift
    local -a opts
    mapfile -t opts < <(qlab_ssh_opts)
    in_ns ssh "${opts[@]}" "root@$(host_ip "$name")" "$@"
}
