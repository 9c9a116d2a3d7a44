# shellcheck shell=bash
# Lab plumbing: the qlab network namespace with its bridge, the nspawn tmpfs, per-host cgroups.
# Sourced by lab.sh after common.sh. Nothing here touches the root network namespace.

# Create netns qlab with bridge qlabbr0 (10.88.0.1/24), loopback up, no forwarding, no routes out.
net_up() {
    [[ -e /run/netns/$QLAB_NS ]] || ip netns add "$QLAB_NS"
    ip -n "$QLAB_NS" link set lo up
    ip -n "$QLAB_NS" link show "$QLAB_BR" >/dev/null 2>&1 || ip -n "$QLAB_NS" link add "$QLAB_BR" type bridge
    ip -n "$QLAB_NS" addr replace "$QLAB_CONTROLLER_IP/24" dev "$QLAB_BR"
    ip -n "$QLAB_NS" link set "$QLAB_BR" up
    in_ns sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
    # The controller (lab.sh exec = ip netns exec) resolves lab names through the lab's hosts
    # file: ip netns exec bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for its command.
    install -d "$QLAB_DIR" "/etc/netns/$QLAB_NS"
    [[ -s $QLAB_DIR/hosts ]] || printf '127.0.0.1\tlocalhost\n' > "$QLAB_DIR/hosts"
    ln -sfn "$QLAB_DIR/hosts" "/etc/netns/$QLAB_NS/hosts"
    # /run is not a tmpfs on this VM; nspawn wants one for its propagation directory.
    install -d "$QLAB_NSPAWN_TMPFS"
    mountpoint -q "$QLAB_NSPAWN_TMPFS" ||
        mount -t tmpfs -o mode=755,size=16m qlab-nspawn "$QLAB_NSPAWN_TMPFS"
}

# Remove the namespace (and with it the bridge), the tmpfs and the cgroup directories.
net_down() {
    if [[ -e /run/netns/$QLAB_NS ]]; then ip netns delete "$QLAB_NS"; fi
    rm -rf "/etc/netns/${QLAB_NS:?}"
    if mountpoint -q "$QLAB_NSPAWN_TMPFS"; then umount "$QLAB_NSPAWN_TMPFS"; fi
    local d
    for d in "/sys/fs/cgroup/systemd/$QLAB_CG_NAME" "/sys/fs/cgroup/unified/$QLAB_CG_NAME"; do
        if [[ -d $d ]]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    return 0
}

# Our own memory cgroup (per-host memory cgroups are children of it, so accounting works).
own_memory_cgroup() {
    printf '/sys/fs/cgroup/memory%s\n' "$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)"
}

# Per-host cgroup directories (fix 4: nspawn --keep-unit otherwise shares one cgroup per VM).
host_cgroups() {
    local name=$1
    printf '%s\n' "/sys/fs/cgroup/systemd/$QLAB_CG_NAME/$name" \
        "/sys/fs/cgroup/unified/$QLAB_CG_NAME/$name" \
        "$(own_memory_cgroup)/qlab-$name"
}

# Memory charged to a host's memory cgroup in KiB (0 if unknown). The cgroup is read from the
# nspawn process, so hosts started from another session's memory cgroup are measured too.
host_memory_kib() {
    local pid=$2 rel f
    [[ -n $pid ]] || { echo 0; return 0; }
    rel=$(sed -n 's/^[0-9]*:memory://p' "/proc/$pid/cgroup" 2>/dev/null || true)
    f=/sys/fs/cgroup/memory$rel/memory.usage_in_bytes
    if [[ -n $rel && -r $f ]]; then echo $(( $(cat "$f") / 1024 )); else echo 0; fi
}

remove_host_cgroups() {
    local d
    while read -r d; do
        if [[ -d $d ]]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done < <(host_cgroups "$1")
    return 0
}

# Close every ssh ControlMaster connected to ADDR inside the lab namespace (whatever its
# ControlPath: the inventory's, molecule's or a user's); an open master keeps a logind
# session alive and delays the host's poweroff until its stop timeout.
close_ssh_masters() {
    local addr=$1 pid
    [[ -e /run/netns/$QLAB_NS ]] || return 0
    for pid in $(in_ns ss -tnpH state established dst "$addr" dport = :22 2>/dev/null |
                 grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
        if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q '\[mux\]'; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
}
