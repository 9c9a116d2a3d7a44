# shellcheck shell=bash
# Base image (debootstrap) and overlay layers (chroot apt-get) for the qube lab.
# Sourced by lab.sh after common.sh.

QLAB_SUITE=bookworm
QLAB_MIRROR=http://deb.debian.org/debian
QLAB_BASE_PKGS=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,openssh-server,python3,python3-apt,sudo,iproute2,iputils-ping,procps,less,ca-certificates,acl
QLAB_LAYER_dc="samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind krb5-user ldb-tools smbclient"
QLAB_LAYER_ad="winbind libnss-winbind libpam-winbind krb5-user samba-common-bin"
QLAB_IMAGE_SCRIPT=${BASH_SOURCE[0]}

# Hash of everything that decides an image's content: this script and the package list.
image_hash() { { cat "$QLAB_IMAGE_SCRIPT"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16; }

# Refuse to rebuild an image that a mounted host uses as a lower layer.
assert_image_unused() {
    local image=$1
    if grep -q "lowerdir=[^ ]*${image}[:, ]" /proc/self/mountinfo; then
        die "image $image is in use by a running/mounted host; run 'lab.sh down' first"
    fi
}

ensure_lab_key() {
    [[ -f $QLAB_KEY ]] && return 0
    install -d -m 700 "$(dirname "$QLAB_KEY")"
    ssh-keygen -q -t ed25519 -N '' -C qube-lab -f "$QLAB_KEY"
}

# Write the customisations every host shares into an unpacked root tree.
customise_base() {
    local r=$1
    : > "$r/etc/machine-id"                      # each host gets its own at first boot
    : > "$r/etc/resolv.conf"                     # no DNS in the lab: names come from /etc/hosts
    rm -f "$r"/etc/ssh/ssh_host_*                 # per-host keys: create writes ed25519, unit -A rest
    install -d "$r/etc/systemd/system/ssh.service.d"
    printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
        > "$r/etc/systemd/system/ssh.service.d/lab-hostkeys.conf"
    install -d -m 700 "$r/root/.ssh"
    install -m 600 "$QLAB_KEY.pub" "$r/root/.ssh/authorized_keys"
    chroot "$r" systemctl enable systemd-networkd.service >/dev/null 2>&1
    chroot "$r" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1
    install -d "$r/etc/systemd/journald.conf.d" "$r/etc/systemd/system.conf.d" "$r/etc/systemd/logind.conf.d"
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n' > "$r/etc/systemd/journald.conf.d/lab.conf"
    printf '[Manager]\nDefaultTimeoutStopSec=15s\n' > "$r/etc/systemd/system.conf.d/lab.conf"
    printf '[Login]\nUserStopDelaySec=0\n' > "$r/etc/systemd/logind.conf.d/lab.conf"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        > "$r/etc/apt/apt.conf.d/90lab-no-recommends"
    rm -f "$r/etc/apt/sources.list"
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: %s-security\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$QLAB_MIRROR" "$QLAB_SUITE" "$QLAB_SUITE" "$QLAB_MIRROR" "$QLAB_SUITE" > "$r/etc/apt/sources.list.d/debian.sources"
    chroot "$r" apt-get clean
    find "$r/var/lib/apt/lists" -type f -delete
}

# Build $QLAB_IMAGES/base once per (script, package list); a matching stamp means nothing to do.
build_base() {
    local base=$QLAB_IMAGES/base stamp want
    want=$(image_hash "$QLAB_BASE_PKGS" "$QLAB_MIRROR" "$QLAB_SUITE")
    stamp=$QLAB_IMAGES/base.stamp
    ensure_lab_key
    if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $base/lib/systemd/systemd ]]; then
        log "base image up to date ($want)"
        return 0
    fi
    assert_image_unused "$base"
    log "building base image ($want)"
    install -d "$QLAB_IMAGES" "$QLAB_DIR/cache/debs"
    rm -rf "$base.new" "$stamp"
    debootstrap --variant=minbase --cache-dir="$QLAB_DIR/cache/debs" --include="$QLAB_BASE_PKGS" \
        "$QLAB_SUITE" "$base.new" "$QLAB_MIRROR" > "$QLAB_DIR/logs/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $QLAB_DIR/logs/debootstrap.log"
    customise_base "$base.new"
    rm -rf "$base"
    mv "$base.new" "$base"
    printf '%s\n' "$want" > "$stamp"
    log "base image ready: $base"
}

# Build one overlay layer (upper dir over base) with chroot apt-get; nothing is started
# (policy-rc.d 101), and the layer's Samba services are disabled with their state wiped.
build_layer() {
    local name=$1 pkgs_var="QLAB_LAYER_$1" dir stamp want m
    [[ -n ${!pkgs_var:-} ]] || die "unknown layer '$name' (known: dc, ad)"
    dir=$QLAB_IMAGES/layer-$name
    stamp=$dir.stamp
    want=$(image_hash "${!pkgs_var}" "$(cat "$QLAB_IMAGES/base.stamp")")
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
        log "layer $name up to date ($want)"
        return 0
    fi
    assert_image_unused "$dir"
    log "building layer $name ($want)"
    m=$QLAB_IMAGES/.build-$name
    rm -rf "$dir" "$m" "$stamp"
    install -d "$dir/upper" "$m/work" "$m/root"
    mount -t overlay "qlab-layer-$name" \
        -o "lowerdir=$QLAB_IMAGES/base,upperdir=$dir/upper,workdir=$m/work" "$m/root"
    # shellcheck disable=SC2064  # expand now: the trap must unmount this build's paths
    trap "layer_build_cleanup '$m'" EXIT
    cp /etc/resolv.conf "$m/root/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' > "$m/root/usr/sbin/policy-rc.d"
    chmod 755 "$m/root/usr/sbin/policy-rc.d"
    mount --bind /proc "$m/root/proc"
    mount --bind /dev "$m/root/dev"
    # shellcheck disable=SC2086  # the package list is a word list on purpose
    if ! { chroot "$m/root" apt-get -qq update &&
           DEBIAN_FRONTEND=noninteractive chroot "$m/root" apt-get -y -qq \
               -o Dpkg::Options::=--force-confdef install ${!pkgs_var}; } \
           > "$QLAB_DIR/logs/layer-$name.log" 2>&1; then
        die "layer $name: apt-get failed; see $QLAB_DIR/logs/layer-$name.log"
    fi
    # shellcheck disable=SC2016  # these run inside the chroot's shell
    chroot "$m/root" sh -c 'for u in smbd nmbd winbind samba-ad-dc; do
        systemctl disable "$u" >/dev/null 2>&1 || true; done'
    # Debian's samba state dirs (LOCKDIR, STATEDIR, CACHEDIR, PRIVATE_DIR): tdb/ldb left by the
    # postinst break a later provision/join ("Indicates the SID structure is not valid").
    find "$m/root/run/samba" "$m/root/var/lib/samba" "$m/root/var/cache/samba" \
        \( -name '*.tdb' -o -name '*.ldb' \) -delete 2>/dev/null || true
    chroot "$m/root" apt-get clean
    find "$m/root/var/lib/apt/lists" -type f -delete
    rm -f "$m/root/usr/sbin/policy-rc.d"
    : > "$m/root/etc/resolv.conf"
    layer_build_cleanup "$m"
    trap - EXIT
    mv "$dir/upper" "$dir.tmp" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
    printf '%s\n' "$want" > "$stamp"
    log "layer $name ready: $dir"
}

layer_build_cleanup() {
    local m=$1 p
    for p in "$m/root/dev" "$m/root/proc" "$m/root"; do
        if mountpoint -q "$p"; then umount "$p"; fi
    done
    rm -rf "$m"
}
