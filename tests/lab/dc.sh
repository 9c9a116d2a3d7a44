#!/usr/bin/env bash
# Samba AD DC of the qube lab: lab host dc1 (10.88.0.5, layer dc), realm MYCORP.TEST.
# Test equipment only. Passwords come from tests/lab/ad-users.env (test-only values) and
# travel on stdin; none is ever on a command line or in output.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
LAB_SH=$HERE/lab.sh
DC_NAME=dc1
DC_OCTET=5
DC_REALM=MYCORP.TEST
DC_NETBIOS=MYCORP
AD_USERS_ENV=${QLAB_AD_USERS_ENV:-$HERE/ad-users.env}

usage() {
    cat <<USAGE
usage: dc.sh provision|users|stop

  provision   fresh DC every run: (re)create host $DC_NAME (layer dc), provision $DC_REALM,
              start samba-ad-dc, create the test users, copy the CA to \$QLAB_DIR/dc-ca.pem
  users       recreate the test users in their known states (valid, disabled, expired,
              must-change, locked out); passwords from $AD_USERS_ENV
  stop        destroy host $DC_NAME and remove \$QLAB_DIR/dc-ca.pem
USAGE
}

# Copy the guest-side helpers into the DC's root file system (no secrets in them).
install_guest_helpers() {
    local root=$QLAB_DIR/machines/$DC_NAME/root/usr/local/lib/qlab
    install -d "$root"
    install -m 755 "$HERE/guest/dc-provision.sh" "$HERE/guest/ad_users.py" "$root/"
}

dc_users() {
    [[ -r $AD_USERS_ENV ]] || die "cannot read $AD_USERS_ENV"
    install_guest_helpers
    qssh "$DC_NAME" /usr/local/lib/qlab/ad_users.py < "$AD_USERS_ENV" ||
        die "setting up the AD test users failed"
}

dc_provision() {
    local start=$SECONDS
    "$LAB_SH" base >/dev/null
    "$LAB_SH" destroy "$DC_NAME"
    "$LAB_SH" create "$DC_NAME" "$DC_OCTET" --layer dc
    "$LAB_SH" start "$DC_NAME"
    install_guest_helpers
    qssh "$DC_NAME" /usr/local/lib/qlab/dc-provision.sh "$DC_REALM" "$DC_NETBIOS" "$QLAB_NET.$DC_OCTET" < /dev/null ||
        die "DC provision failed; see /var/log/qlab-provision.log in $DC_NAME"
    dc_users
    install -m 644 "$QLAB_DIR/machines/$DC_NAME/root/var/lib/samba/private/tls/ca.pem" "$QLAB_DIR/dc-ca.pem"
    log "DC $DC_NAME.${DC_REALM,,} ($QLAB_NET.$DC_OCTET) ready in $(( SECONDS - start ))s; CA at $QLAB_DIR/dc-ca.pem"
}

main() {
    [[ $# -eq 1 ]] || { usage >&2; exit 2; }
    [[ $EUID -eq 0 ]] || die "dc.sh must run as root"
    reexec_in_root_mount_ns "$(readlink -f "${BASH_SOURCE[0]}")" "$@"
    case $1 in
        provision) dc_provision ;;
        users) dc_users ;;
        stop) "$LAB_SH" destroy "$DC_NAME"; rm -f "$QLAB_DIR/dc-ca.pem" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
