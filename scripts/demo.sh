#!/usr/bin/env bash
# `make demo`: bring up the lab farm (a supervisor, N workers in both modes, an AD DC), run
# site.yml on it, then submit a stand-in job to every worker and show who it ran as.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PATH="$here/.venv/bin:$PATH" ANSIBLE_CONFIG="$here/ansible.cfg"
export QLAB_DIR=${QLAB_DIR:-/var/lib/qube-lab}
# The lab farm's vault holds test-only passwords; a real farm uses its own vault password.
export ANSIBLE_VAULT_PASSWORD_FILE="$here/inventories/lab/vault-pass.txt"
N=${N:-4}
(( N >= 4 )) || { echo "the demo farm needs N >= 4 (w02 desktop, w03 AD, w04 user mode)" >&2; exit 2; }
lab() { tests/lab/lab.sh "$@"; }
inv=(-i "$QLAB_DIR/inventory.yml" -i inventories/lab/hosts.yml)

echo "== lab farm: sup + w01..w$(printf %02d "$N") + dc1 =="
lab up "$N" --dc
# shellcheck source=../tests/lab/ad-users.env
. tests/lab/ad-users.env
printf '%s\n' "$QLAB_AD_ADMIN_PASSWORD" | tests/lab/ad-join.sh w03
lab exec ansible-playbook "${inv[@]}" tests/lab/prepare-demo.yml

echo "== site.yml =="
lab exec ansible-playbook "${inv[@]}" site.yml

echo "== a stand-in job on every worker: who did it run as? =="
# The Desktop User worker on w02 runs only while its user is logged in: open a session.
lab exec ssh -i "$QLAB_DIR/ssh/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ControlMaster=no artist@10.88.0.12 'sleep 40' &
session=$!
sleep 3
for i in $(seq 1 "$N"); do
  w=$(printf 'w%02d' "$i")
  user_opt=""
  [[ $w == w04 ]] && user_opt="--user alice"
  out=$(lab ssh sup "/usr/local/pfx/qube/bin/qbsub --hosts $w $user_opt --waiton /usr/bin/id -un" 2>&1 || true)
  id=$(sed -n 's/.*submitted job: *\([0-9]*\).*/\1/p' <<<"$out" | head -1)
  who=$([[ -n $id ]] && lab ssh sup "/usr/local/pfx/qube/bin/qbout $id" 2>/dev/null | tail -1)
  printf '  %-4s job %-4s ran as: %s\n' "$w" "${id:-?}" "${who:-(no output: $out)}"
done
kill "$session" 2>/dev/null || true
wait 2>/dev/null || true
echo
echo "farm report: $here/reports/qube-report.html (and qube-report.json)"
echo "look around:  tests/lab/lab.sh ssh w01 | tests/lab/lab.sh status | make lab-down"
