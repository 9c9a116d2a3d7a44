# shellcheck shell=bash
# Lab hosts: overlay clones of the base image booted with systemd-nspawn on the lab bridge.
# Sourced by lab.sh after common.sh, image.sh and net.sh.

QLAB_BOOT_TIMEOUT=${QLAB_BOOT_TIMEOUT:-90}   # seconds until sshd + is-system-running must answer
QLAB_STOP_GRACE=${QLAB_STOP_GRACE:-20}        # seconds of orderly poweroff before a hard kill

host_dir() { printf '%s/%s\n' "$QLAB_MACHINES" "$1"; }
host_meta() { sed -n "s/^$2=//p" "$(host_dir "$1")/meta"; }
host_names() { [[ -d $QLAB_MACHINES ]] && find "$QLAB_MACHINES" -mindepth 2 -maxdepth 2 -name meta -printf '%h\n' | xargs -rn1 basename | sort; }

# PID of the host's systemd-nspawn, empty when it is not running.
host_pid() {
    local f pid
    f="$(host_dir "$1")/pid"
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "systemd-nspawn.*--machine=$1 "; then
        echo "$pid"
    fi
}

# Rewrite the shared hosts file in place (same inode), so running hosts see new entries.
# Serialised with flock: molecule and a demo lab may create hosts at the same time.
write_hosts_file() {
    local lock_fd
    exec {lock_fd}>"$QLAB_DIR/.hosts.lock"
    flock "$lock_fd"
    write_hosts_file_locked
    exec {lock_fd}>&-
}

write_hosts_file_locked() {
    local name octet layer content
    content=$(printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\tcontroller\n' "$QLAB_CONTROLLER_IP")
    for name in $(host_names); do
        octet=$(host_meta "$name" octet); layer=$(host_meta "$name" layer)
        if [[ -n $layer ]]; then
            content+=$(printf '\n%s.%s\t%s.%s %s' "$QLAB_NET" "$octet" "$name" "$QLAB_AD_DOMAIN" "$name")
        else
            content+=$(printf '\n%s.%s\t%s' "$QLAB_NET" "$octet" "$name")
        fi
    done
    [[ -f $QLAB_HOSTS_FILE ]] || install -m 644 /dev/null "$QLAB_HOSTS_FILE"
    printf '%s\n' "$content" > "$QLAB_HOSTS_FILE"
}

# Mount the host's overlay root (layers stacked over base) unless it already is.
mount_host_root() {
    local name=$1 d lower layer
    d=$(host_dir "$name")
    mountpoint -q "$d/root" && return 0
    layer=$(host_meta "$name" layer)
    lower=$QLAB_IMAGES/base
    if [[ -n $layer ]]; then lower=$QLAB_IMAGES/layer-$layer:$lower; fi
    mount -t overlay "qlab-$name" -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$d/root"
}

# create NAME OCTET [LAYER]: overlay clone with hostname, static address and its own host key.
host_create() {
    local name=$1 octet=$2 layer=${3:-} d r other
    [[ $name =~ ^[a-z][a-z0-9-]{0,10}$ ]] || die "bad host name '$name' (a-z0-9-, max 11 chars)"
    if [[ ! $octet =~ ^[0-9]+$ ]] || (( octet < 2 || octet > 254 )); then die "bad octet '$octet'"; fi
    d=$(host_dir "$name")
    if [[ -f $d/meta ]]; then
        [[ $(host_meta "$name" octet) == "$octet" && $(host_meta "$name" layer) == "$layer" ]] ||
            die "$name exists with another address or layer; destroy it first"
    else
        for other in $(host_names); do
            [[ $(host_meta "$other" octet) != "$octet" ]] || die "octet $octet is taken by $other"
        done
        [[ -f $QLAB_IMAGES/base.stamp ]] || die "no base image; run 'lab.sh base'"
        [[ -z $layer || -f $QLAB_IMAGES/layer-$layer.stamp ]] || die "no $layer layer; run 'lab.sh base'"
        install -d "$d/upper" "$d/work" "$d/root"
        printf 'octet=%s\nlayer=%s\n' "$octet" "$layer" > "$d/meta"
        mount_host_root "$name"
        r=$d/root
        printf '%s\n' "$name" > "$r/etc/hostname"
        printf '[Match]\nName=host0\n\n[Network]\nAddress=%s.%s/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
            "$QLAB_NET" "$octet" > "$r/etc/systemd/network/10-host0.network"
        ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$r/etc/ssh/ssh_host_ed25519_key"
        log "created $name ($QLAB_NET.$octet${layer:+, layer $layer})"
    fi
    mount_host_root "$name"
    write_hosts_file
}

# Launch one host's nspawn in the background, inside the lab netns and its own cgroups.
host_launch() {
    local name=$1 d pid
    local -a cgs
    d=$(host_dir "$name")
    [[ -n $(host_pid "$name") ]] && return 0
    mount_host_root "$name"
    mapfile -t cgs < <(host_cgroups "$name")
    install -d "${cgs[@]}"
    # The launcher moves itself into the host's cgroups, then becomes nsenter -> nspawn. lab.sh
    # already runs in the root mount namespace (see reexec_in_root_mount_ns), so only the
    # network namespace is entered; `ip netns exec` would remount /sys and break nspawn.
    # shellcheck disable=SC2016  # expanded by the launcher shell
    setsid bash -c 'for cg in "$1" "$2" "$3"; do echo $$ > "$cg/cgroup.procs"; done; shift 3; exec "$@"' \
        qlab-launch "${cgs[@]}" \
        nsenter --net="/run/netns/$QLAB_NS" -- \
        systemd-nspawn --quiet --boot --directory="$d/root" --machine="$name" \
        --register=no --keep-unit --network-bridge="$QLAB_BR" --console=passive \
        --bind-ro="$QLAB_HOSTS_FILE:/etc/hosts" --resolv-conf=off --timezone=off \
        < /dev/null > "$d/console.log" 2>&1 &
    pid=$!
    echo "$pid" > "$d/pid"
}

# Wait until NAME answers ssh and `systemctl is-system-running --wait` says running.
host_wait_ready() {
    local name=$1 deadline state
    deadline=$(( SECONDS + QLAB_BOOT_TIMEOUT ))
    while (( SECONDS < deadline )); do
        # Looked at twice: while the launcher execs nsenter and then nspawn, /proc/PID/cmdline can
        # read empty for a moment (seen once in CI: a host reported dead 1.5 s after its launch).
        if [[ -z $(host_pid "$name") ]] && sleep 0.5 && [[ -z $(host_pid "$name") ]]; then
            log "$name: nspawn exited during boot; console log:"
            tail -n 30 "$(host_dir "$name")/console.log" >&2
            return 1
        fi
        if state=$(qssh "$name" timeout 60 systemctl is-system-running --wait 2>/dev/null); then
            return 0
        fi
        if [[ $state == degraded || $state == maintenance ]]; then
            log "$name: system is $state; failed units:"
            qssh "$name" systemctl --failed --no-pager >&2 || true
            return 1
        fi
        sleep 0.3
    done
    log "$name: not ready after ${QLAB_BOOT_TIMEOUT}s"
    return 1
}

# start NAME...: boot all in parallel, then wait for each; fails if any is not running.
hosts_start() {
    local name pid rc=0
    local -a waiters=()
    net_up
    for name in "$@"; do host_launch "$name"; done
    for name in "$@"; do host_wait_ready "$name" & waiters+=("$!"); done
    for pid in "${waiters[@]}"; do wait "$pid" || rc=1; done
    (( rc == 0 )) || die "some hosts did not come up cleanly"
    log "running: $*"
}

# stop NAME...: close ssh masters, orderly poweroff in parallel, hard kill after the grace.
hosts_stop() {
    local name pid deadline
    local -a running=()
    for name in "$@"; do
        pid=$(host_pid "$name")
        [[ -n $pid ]] || continue
        close_ssh_masters "$(host_ip "$name")"
        kill -TERM "$pid"
        running+=("$name")
    done
    deadline=$(( SECONDS + QLAB_STOP_GRACE ))
    for name in "${running[@]}"; do
        while [[ -n $(host_pid "$name") ]] && (( SECONDS < deadline )); do sleep 0.2; done
        pid=$(host_pid "$name")
        if [[ -n $pid ]]; then
            log "$name: no clean poweroff within ${QLAB_STOP_GRACE}s; killing"
            kill -TERM "$pid" 2>/dev/null || true     # a second SIGTERM makes nspawn kill hard
            sleep 2
            pid=$(host_pid "$name"); [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
        fi
        while [[ -n $(host_pid "$name") ]]; do sleep 0.2; done
        rm -f "$(host_dir "$name")/pid"
    done
}

# destroy NAME...: stop, unmount, delete; never deletes a root that is still mounted.
hosts_destroy() {
    local name d
    hosts_stop "$@"
    for name in "$@"; do
        d=$(host_dir "$name")
        [[ -d $d ]] || continue
        if mountpoint -q "$d/root"; then umount "$d/root" || umount -l "$d/root"; fi
        mountpoint -q "$d/root" && die "$name: root still mounted at $d/root; not deleting"
        rm -rf --one-file-system "$d"
        remove_host_cgroups "$name"
        log "destroyed $name"
    done
    write_hosts_file
}

hosts_status() {
    local name pid state
    printf '%-12s %-14s %-7s %-8s %s\n' NAME ADDRESS LAYER MEM_MiB STATE
    for name in $(host_names); do
        pid=$(host_pid "$name")
        state=stopped
        if [[ -n $pid ]]; then state=$(qssh "$name" systemctl is-system-running 2>/dev/null || true); fi
        printf '%-12s %-14s %-7s %-8s %s\n' "$name" "$(host_ip "$name")" "$(host_meta "$name" layer)" \
            "$(( $(host_memory_kib "$name" "$pid") / 1024 ))" "${state:-unreachable}"
    done
}
