#!/usr/bin/env bash
# Join a lab worker (created with `lab.sh create NAME OCTET --layer ad`) to the lab's AD DC.
# Test equipment only. The Administrator password is read from stdin, e.g.
#   . tests/lab/ad-users.env; printf '%s\n' "$QLAB_AD_ADMIN_PASSWORD" | tests/lab/ad-join.sh w01
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

usage() {
    cat <<USAGE
usage: ad-join.sh NAME < admin-password
  Joins running lab host NAME (layer ad) to MYCORP.TEST on dc1 with winbind + idmap rid and
  mkhomedir. Needs 'dc.sh provision' first. The password is read from stdin, never argv.
USAGE
}

main() {
    [[ $# -eq 1 && $1 != -h && $1 != --help ]] || { usage >&2; exit 2; }
    [[ $EUID -eq 0 ]] || die "ad-join.sh must run as root"
    reexec_in_root_mount_ns "$(readlink -f "${BASH_SOURCE[0]}")" "$@"
    local name=$1 meta=$QLAB_MACHINES/$1/meta root=$QLAB_MACHINES/$1/root
    [[ -f $meta ]] || die "no such lab host: $name"
    grep -qx 'layer=ad' "$meta" || die "$name was not created with --layer ad"
    [[ ! -t 0 ]] || die "give the Administrator password on stdin"
    install -d "$root/usr/local/lib/qlab"
    install -m 755 "$HERE/guest/ad-join.sh" "$root/usr/local/lib/qlab/"
    qssh "$name" /usr/local/lib/qlab/ad-join.sh MYCORP.TEST MYCORP "$QLAB_NET.5" ||
        die "joining $name to the domain failed"
}

main "$@"
