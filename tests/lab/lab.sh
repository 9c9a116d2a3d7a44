#!/usr/bin/env bash
# qube lab: systemd-nspawn test hosts on a private bridge inside the `qlab` network namespace.
# Test equipment only (not shipped). See tests/lab/README.md.
set -euo pipefail

LAB_SH=$(readlink -f "${BASH_SOURCE[0]}")
LAB_LIB=$(dirname "$LAB_SH")/lib
# shellcheck source=lib/common.sh
. "$LAB_LIB/common.sh"
# shellcheck source=lib/image.sh
. "$LAB_LIB/image.sh"
# shellcheck source=lib/net.sh
. "$LAB_LIB/net.sh"
# shellcheck source=lib/host.sh
. "$LAB_LIB/host.sh"
# shellcheck source=lib/farm.sh
. "$LAB_LIB/farm.sh"

usage() {
    cat <<USAGE
usage: lab.sh COMMAND [ARGS]           (QLAB_DIR=${QLAB_DIR})

  deps                         apt-get install the VM-side tools, raise inotify instances
  base                         build (or reuse) the debootstrap base image and the dc/ad layers
  create NAME OCTET [--layer dc|ad]
                               overlay clone at ${QLAB_NET}.OCTET (not started)
  start NAME...                boot in parallel; wait for sshd and is-system-running
  stop NAME...                 close ssh masters, clean poweroff (hard kill after grace)
  destroy NAME...              stop, unmount, delete
  up N [--dc]                  sup + w01..wN (+ dc1 with test users); writes inventory.yml
  down                         destroy all hosts; remove netns, bridge, tmpfs, cgroups
  status                       list hosts, address, layer, memory, systemd state
  inventory                    rewrite ${QLAB_DIR}/inventory.yml from the existing hosts
  install-standin NAME         build/install the qube stand-in deb, start its supervisor
  exec CMD...                  run CMD in the lab netns (the controller: ansible, molecule, pytest)
  ssh NAME [CMD...]            ssh to a host as root with the lab key
USAGE
}

cmd_deps() {
    local -a apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
    if ! command -v systemd-nspawn debootstrap ip ssh >/dev/null 2>&1 ||
       ! dpkg -s systemd-container debootstrap iproute2 openssh-client >/dev/null 2>&1; then
        "${apt[@]}" update
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install systemd-container debootstrap iproute2 openssh-client
    fi
    local cur
    cur=$(sysctl -n fs.inotify.max_user_instances)
    if (( cur < 8192 )); then sysctl -qw fs.inotify.max_user_instances=8192; fi
    log "deps ok (fs.inotify.max_user_instances=$(sysctl -n fs.inotify.max_user_instances))"
}

main() {
    local cmd=${1:-}
    [[ -n $cmd ]] || { usage >&2; exit 2; }
    shift
    case $cmd in
        -h | --help | help) usage; return 0 ;;
    esac
    [[ $EUID -eq 0 ]] || die "lab.sh must run as root"
    reexec_in_root_mount_ns "$LAB_SH" "$cmd" "$@"
    install -d -m 700 "$QLAB_DIR" "$QLAB_CP_DIR"
    install -d "$QLAB_DIR/logs" "$QLAB_MACHINES" "$QLAB_IMAGES"
    case $cmd in
        exec) [[ $# -gt 0 ]] || die "exec needs a command"
              net_up
              # A command from a virtualenv's bin/ gets that bin/ first on PATH, as `activate`
              # would, so molecule finds its ansible-playbook and ansible-config.
              if [[ $1 == */* && -f $(dirname "$1")/activate ]]; then
                  PATH="$(cd "$(dirname "$1")" && pwd):$PATH"; export PATH
              fi
              exec ip netns exec "$QLAB_NS" "$@" ;;
        deps) cmd_deps ;;
        base) build_base; build_layer dc; build_layer ad ;;
        create)
            [[ $# -eq 2 || ( $# -eq 4 && $3 == --layer ) ]] || die "usage: create NAME OCTET [--layer dc|ad]"
            host_create "$1" "$2" "${4:-}" ;;
        start) [[ $# -gt 0 ]] || die "usage: start NAME..."; hosts_start "$@" ;;
        stop) [[ $# -gt 0 ]] || die "usage: stop NAME..."; hosts_stop "$@" ;;
        destroy) [[ $# -gt 0 ]] || die "usage: destroy NAME..."; hosts_destroy "$@" ;;
        up) [[ $# -ge 1 ]] || die "usage: up N [--dc]"; farm_up "$@" ;;
        down) farm_down ;;
        status) hosts_status ;;
        inventory) write_inventory ;;
        install-standin) [[ $# -eq 1 ]] || die "usage: install-standin NAME"; install_standin "$1" ;;
        ssh) [[ $# -ge 1 ]] || die "usage: ssh NAME [CMD...]"
             local name=$1; shift
             if [[ $# -eq 0 && -t 0 ]]; then
                 local -a opts; mapfile -t opts < <(qlab_ssh_opts)
                 in_ns ssh -t "${opts[@]}" "root@$(host_ip "$name")"
             else qssh "$name" "$@"; fi ;;
        *) usage >&2; die "unknown command: $cmd" ;;
    esac
}

main "$@"
