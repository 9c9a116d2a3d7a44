#!/usr/bin/env bash
# Screenshot a farm report in a real headless Chromium (Debian package `chromium`).
#   tests/report/screenshot.sh REPORT_HTML OUT_PNG [WIDTH,HEIGHT]
# No network: background networking, component updates and sync are off, and the page itself
# loads nothing external. A throw-away profile directory is removed afterwards.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 REPORT_HTML OUT_PNG [WIDTH,HEIGHT]" >&2
    exit 2
fi
report=$(realpath -- "$1")
out=$(realpath -m -- "$2")
size=${3:-1280,800}
[[ -f $report ]] || { echo "no such report: $report" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
    echo "chromium not found: apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium" >&2
    exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf -- "$profile"' EXIT
rm -f -- "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$out" --window-size="$size" \
    "file://$report" >"$profile/chromium.log" 2>&1 || {
        cat "$profile/chromium.log" >&2
        exit 1
    }
[[ -s $out ]] || { echo "chromium wrote no screenshot" >&2; cat "$profile/chromium.log" >&2; exit 1; }
echo "$out"
