#!/bin/sh
# Build qube-standin_<version>_all.deb (STAND-IN for PipelineFX Qube!, test equipment).
# Usage: tests/standin/build-deb.sh OUTDIR        (offline; needs dpkg-deb)
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
VERSION=8.0.0~standin1
QB=usr/local/pfx/qube
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"

install -d "$STAGE/DEBIAN" "$STAGE/$QB/bin" "$STAGE/$QB/sbin" "$STAGE/$QB/lib/qube_standin" \
    "$STAGE/lib/systemd/system"
install -m 0644 "$HERE"/qube_standin/*.py "$STAGE/$QB/lib/qube_standin/"
install -m 0755 "$HERE/qube-standin" "$STAGE/$QB/lib/qube-standin"
install -m 0644 "$HERE/debian/qb.conf.template" "$STAGE/$QB/lib/qb.conf.template"
install -m 0644 "$HERE/README.md" "$STAGE/$QB/lib/README.standin.md"
for cmd in qbsub qbout qberr qbjobs qbhosts qblock qbunlock qblogin qbhash; do
    ln -s ../lib/qube-standin "$STAGE/$QB/bin/$cmd"
done
for cmd in qbadmin qbconfigfile worker supervisor proxy; do
    ln -s ../lib/qube-standin "$STAGE/$QB/sbin/$cmd"
done
install -m 0644 "$HERE/debian/worker.service" "$HERE/debian/supervisor.service" "$STAGE/lib/systemd/system/"
sed "s/@VERSION@/$VERSION/" "$HERE/debian/control.in" > "$STAGE/DEBIAN/control"
install -m 0755 "$HERE/debian/postinst" "$HERE/debian/prerm" "$STAGE/DEBIAN/"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$OUT/qube-standin_${VERSION}_all.deb" >/dev/null
echo "$OUT/qube-standin_${VERSION}_all.deb"
