#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv from the pinned requirements.txt (the collection's
# runtime libraries) and requirements-dev.txt (development and test tools).
# Idempotent: reinstalls only when one of the two files changed since the last run.
set -euo pipefail
venv=${1:-.venv}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
stamp="$venv/.requirements.sha256"
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y python3-venv
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
# The collection under test is found by ansible through this symlink (see ansible.cfg).
mkdir -p .cache/collections/ansible_collections/renderfarm
ln -sfn "$here" .cache/collections/ansible_collections/renderfarm/qube
echo "$want" > "$stamp"
echo "virtualenv ready: $venv"
