# shellcheck shell=bash
# The lab farm: supervisor + workers (+ DC), the stand-in package and the Ansible inventory.
# Sourced by lab.sh after host.sh.

QLAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
QLAB_STANDIN_BUILDER=$QLAB_REPO/tests/standin/build-deb.sh
QLAB_PACKAGES=$QLAB_DIR/packages

worker_name() { printf 'w%02d\n' "$1"; }

# Build the stand-in deb into $QLAB_DIR/packages when its sources changed; print its path.
standin_deb() {
    local want stamp=$QLAB_PACKAGES/standin.stamp deb
    [[ -x $QLAB_STANDIN_BUILDER ]] || die "missing $QLAB_STANDIN_BUILDER (stand-in package builder)"
    want=$(find "$QLAB_REPO/tests/standin" -type f ! -path '*/__pycache__/*' -print0 | sort -z |
           xargs -0 sha256sum | sha256sum | cut -c1-16)
    deb=$(find "$QLAB_PACKAGES" -maxdepth 1 -name 'qube-standin_*_all.deb' 2>/dev/null | sort -V | tail -n1)
    if [[ -z $deb || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
        install -d "$QLAB_PACKAGES"
        rm -f "$QLAB_PACKAGES"/qube-standin_*_all.deb
        "$QLAB_STANDIN_BUILDER" "$QLAB_PACKAGES" > "$QLAB_DIR/logs/standin-build.log" 2>&1 ||
            die "stand-in build failed; see $QLAB_DIR/logs/standin-build.log"
        deb=$(find "$QLAB_PACKAGES" -maxdepth 1 -name 'qube-standin_*_all.deb' | sort -V | tail -n1)
        [[ -n $deb ]] || die "$QLAB_STANDIN_BUILDER produced no qube-standin_*_all.deb"
        printf '%s\n' "$want" > "$stamp"
    fi
    printf '%s\n' "$deb"
}

# install-standin NAME: dpkg -i the stand-in on a running host and start its supervisor.
install_standin() {
    local name=$1 deb root
    deb=$(standin_deb)
    root="$(host_dir "$name")/root"
    install -D -m 644 "$deb" "$root/var/cache/qlab/$(basename "$deb")"
    qssh "$name" "dpkg -i /var/cache/qlab/$(basename "$deb") >/dev/null && systemctl enable --now supervisor >/dev/null 2>&1 && systemctl is-active supervisor" >/dev/null ||
        die "$name: installing the stand-in or starting its supervisor failed"
    log "$name: stand-in $(basename "$deb") installed, supervisor active"
}

# Write $QLAB_DIR/inventory.yml from the hosts that exist (sup, wNN, dc1).
write_inventory() {
    local name inv=$QLAB_DIR/inventory.yml group members
    {
        printf '# Written by tests/lab/lab.sh (test equipment). Run the controller with: lab.sh exec ...\n'
        printf 'all:\n  vars:\n    ansible_user: root\n'
        printf '    ansible_ssh_private_key_file: %s\n' "$QLAB_KEY"
        printf '    ansible_python_interpreter: /usr/bin/python3\n'
        printf '    ansible_ssh_common_args: >-\n      -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=%s/%%C\n' "$QLAB_CP_DIR"
        printf '      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n'
        printf '  children:\n'
        for group in qube_supervisors qube_workers ad_dcs; do
            members=""
            for name in $(host_names); do
                case "$group:$name" in
                    qube_supervisors:sup | qube_workers:w[0-9][0-9] | ad_dcs:dc1)
                        members+=$(printf '\n        %s:\n          ansible_host: %s' "$name" "$(host_ip "$name")") ;;
                esac
            done
            if [[ -n $members ]]; then printf '    %s:\n      hosts:%s\n' "$group" "$members"
            else printf '    %s:\n      hosts: {}\n' "$group"; fi
        done
    } > "$inv.new"
    mv "$inv.new" "$inv"
    log "inventory: $inv"
}

# up N [--dc]: sup + w01..wN (+ dc1 provisioned with the test users); workers get the ad layer
# with --dc so tests/lab/ad-join.sh can join them.
farm_up() {
    local n=$1 dc=${2:-} i layer=""
    if [[ ! $n =~ ^[0-9]+$ ]] || (( n > 99 )); then die "up: N must be 0..99"; fi
    build_base
    if [[ $dc == --dc ]]; then build_layer dc; build_layer ad; layer=ad; fi
    local -a names=(sup)
    host_create sup 10
    for (( i = 1; i <= n; i++ )); do
        host_create "$(worker_name "$i")" $(( 10 + i )) "$layer"
        names+=("$(worker_name "$i")")
    done
    if [[ $dc == --dc ]]; then host_create dc1 5 dc; names+=(dc1); fi
    hosts_start "${names[@]}"
    install_standin sup
    if [[ $dc == --dc ]]; then "$QLAB_REPO/tests/lab/dc.sh" provision; fi
    write_inventory
}

# down: destroy every host, then remove the namespace, bridge, tmpfs and cgroup directories.
farm_down() {
    local -a names
    mapfile -t names < <(host_names)
    (( ${#names[@]} == 0 )) || hosts_destroy "${names[@]}"
    rm -f "$QLAB_DIR/inventory.yml" "$QLAB_CP_DIR"/* 2>/dev/null || true
    net_down
    log "lab is down"
}
