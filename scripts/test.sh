#!/usr/bin/env bash
# Everything CI runs (`make test` calls this with no argument; .ci/run calls `make test`).
# Stages can be run alone: scripts/test.sh lint|sanity|units|pytest|build|docs|importer|consumer|molecule [scenario...]
# (and the others the usage line lists); `release` is the release check (changelog, artifact, docs).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PATH="$here/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg"
export QLAB_DIR=${QLAB_DIR:-/var/lib/qube-lab}
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
results=()

stage() { printf '\n=== %s ===\n' "$*"; }

lint() {
  stage "yamllint"
  yamllint -s .
  stage "ansible-lint (production profile)"
  # ansible-lint puts its cache's collections (ANSIBLE_HOME, default ~/.ansible, where molecule
  # also installs copies of this collection) before every other path: give it a cache of its
  # own, and the checkout itself as renderfarm.qube, so it lints what is here and needs no
  # .cache/collections link from setup-venv.
  local home=$here/.cache/ansible-lint
  rm -rf "$home" && mkdir -p "$home/checkout/ansible_collections/renderfarm"
  ln -s "$here" "$home/checkout/ansible_collections/renderfarm/qube"
  ANSIBLE_HOME=$home ANSIBLE_COLLECTIONS_PATH=$home/checkout ansible-lint --offline -q
}

# ansible-test needs the collection at ansible_collections/<ns>/<name>. Sanity checks what
# studios install: the files of the built artifact (galaxy.yml build_ignore leaves out the
# development equipment), plus tests/sanity/ for the ignore file.
artifact_copy() {
  local dest=$here/.cache/ansible-test/ansible_collections/renderfarm/qube
  local out=$here/.cache/ansible-test/artifact
  rm -rf "$dest" "$out" && mkdir -p "$dest" "$out"
  ansible-galaxy collection build --output-path "$out" --force . >/dev/null
  tar -xzf "$out"/renderfarm-qube-*.tar.gz -C "$dest"
  if [[ -d tests/sanity ]]; then cp -r --parents tests/sanity "$dest"; fi
  echo "$dest"
}

sanity() {
  stage "ansible-test sanity (the full default test list, Python 3.11, on the artifact's files)"
  # ansible-test downloads a pip bootstrap from a host this network cannot reach; give it a
  # local one that bootstraps pip from Python's bundled wheel (it then installs from PyPI).
  mkdir -p ~/.ansible/test/cache
  cp scripts/ansible-test-get-pip.py ~/.ansible/test/cache/get_pip_24_2.py
  # Every test of ansible-test's default list runs, none is skipped. pslint (it would need pwsh)
  # and shellcheck have no target: the artifact ships no PowerShell and no shell file. Findings
  # that may stay are in tests/sanity/ignore-2.19.txt, each with its reason.
  local dest; dest=$(artifact_copy)
  (cd "$dest" && git init -q . && git add -A >/dev/null && \
   ansible-test sanity --local --python 3.11)
}

units() {
  stage "unit tests (ansible-test units + pytest)"
  pytest -q -p no:cacheprovider tests/unit
}

pytest_stage() {
  stage "pytest: stand-in and WinRM double"
  # Separate runs: each suite has its own conftest.py.
  # Every suite runs; the stage fails when any of them fails (errexit does not apply inside `run`).
  local suite rc=0
  for suite in tests/standin/tests tests/winrm_double/tests tests/report; do
    pytest -q -p no:cacheprovider "$suite" || rc=1
  done
  return "$rc"
}

examples() {
  stage "example inventories pass the preflight"
  QUBE_REPORT_DIR=$(mktemp -d) ansible-playbook -i inventories/example-production playbooks/preflight.yml
}

bad_input() {
  stage "bad-input matrix on the lab (every bad inventory refused, no managed file changed)"
  tests/lab/lab.sh exec pytest -q -p no:cacheprovider tests/integration/test_bad_input.py
}

windows_ad() {
  stage "Windows path against the WinRM double, logons decided by the lab's real Samba AD DC"
  tests/lab/dc.sh provision
  # shellcheck source=../tests/lab/ad-users.env
  . tests/lab/ad-users.env
  local rc=0
  QUBE_TEST_DC=10.88.0.5 QUBE_TEST_DC_PASSWORD="$QLAB_AD_USER_PASSWORD" \
    tests/lab/lab.sh exec pytest -q -rs -p no:cacheprovider tests/winrm_double/tests/test_ad_mode.py || rc=$?
  # dc1 stays up for the AD hosts of the leak, fault and parity stages (the lab goes at the end).
  return "$rc"
}

leaks() {
  stage "secret-leak scan: canary passwords across the scenario matrix at -vvvv, --diff, check and real"
  tests/lab/lab.sh exec pytest -q -s -p no:cacheprovider tests/integration/test_secret_leaks.py
}

faults() {
  stage "faults: worker unreachable mid-run, supervisor down at the push, validation failing, DC unreachable, killed runs, disk full, hand-edited qb.conf"
  tests/lab/lab.sh exec pytest -q -s -p no:cacheprovider tests/integration/test_faults.py
}

parity() {
  stage "check mode predicts the real run, re-runs change nothing, jobs and files with least privilege"
  tests/lab/lab.sh exec pytest -q -s -p no:cacheprovider tests/integration/test_check_parity.py tests/integration/test_least_privilege.py
}

build() {
  stage "ansible-galaxy collection build"
  rm -rf build && mkdir -p build
  ansible-galaxy collection build --output-path build --force .
  local tarball; tarball=$(ls build/renderfarm-qube-*.tar.gz)
  if tar -tzf "$tarball" | grep -E '^(molecule|tests|\.ci|\.venv|\.cache)/'; then
    echo "the artifact holds test equipment" >&2; return 1
  fi
  ANSIBLE_COLLECTIONS_PATH="$here/build/installed" ansible-galaxy collection install --force -p build/installed "$tarball" >/dev/null
  ANSIBLE_COLLECTIONS_PATH="$here/build/installed" ansible-doc renderfarm.qube.qube_credential >/dev/null
  ANSIBLE_COLLECTIONS_PATH="$here/build/installed" ansible-doc renderfarm.qube.qube_conf >/dev/null
  echo "artifact ok: $tarball"
}

# The checkout as renderfarm.qube in a collections folder of its own (docs tools and the
# consumer test need ansible_collections/<ns>/<name>; nothing under ~/.ansible is used).
checkout_collections() {
  local dir=$here/build/collections
  mkdir -p "$dir/ansible_collections/renderfarm"
  ln -sfn "$here" "$dir/ansible_collections/renderfarm/qube"
  echo "$dir"
}

docs() {
  stage "docs: role argument specs cover defaults/main.yml; antsibull-docs lint; the HTML docs site"
  local role rc=0
  python3 scripts/check-doc-refs.py || return 1  # code references of docs/vendor-behaviour.md, ARCHITECTURE.md exist at HEAD
  for role in roles/*/; do
    python3 - "$role" <<'PY' || rc=1
import sys, yaml
role = sys.argv[1].rstrip("/")
defaults = yaml.safe_load(open(role + "/defaults/main.yml")) or {}
try:
    entry_points = yaml.safe_load(open(role + "/meta/argument_specs.yml"))["argument_specs"]
    options = {}  # every entry point's (worker_restart documents its handler's, "restart")
    for entry_point in entry_points.values():
        options.update(entry_point.get("options") or {})
except FileNotFoundError:
    sys.exit("%s: no meta/argument_specs.yml" % role)
missing = sorted(set(defaults) - set(options))
if missing:
    sys.exit("%s: defaults/main.yml variables missing from meta/argument_specs.yml: %s" % (role, ", ".join(missing)))
drift = sorted(k for k in defaults if "default" in options[k] and options[k]["default"] != defaults[k])
if drift:
    sys.exit("%s: meta/argument_specs.yml default differs from defaults/main.yml for: %s" % (role, ", ".join(drift)))
PY
  done
  [[ $rc -eq 0 ]] || return 1
  local cols; cols=$(checkout_collections)
  export ANSIBLE_COLLECTIONS_PATH=$cols
  (cd "$cols/ansible_collections/renderfarm/qube" && antsibull-docs lint-collection-docs --plugin-docs .)
  # ansible-doc renders every plugin and role of the collection.
  local type name count=0
  for type in module filter callback role; do
    for name in $(ansible-doc -t "$type" -l renderfarm.qube 2>/dev/null | awk '$1 ~ /^renderfarm\.qube\./ {sub(":$", "", $1); print $1}'); do
      ansible-doc -t "$type" "$name" >/dev/null || { echo "ansible-doc -t $type $name failed" >&2; return 1; }
      count=$((count + 1))
    done
  done
  echo "ansible-doc rendered $count plugins and roles"
  # The site: antsibull-docs writes RST from the plugin docs and role argument specs of the
  # checkout, Sphinx renders it (sphinx-ansible-theme). Output: build/docs/html/index.html.
  local src=$here/build/docs/src
  rm -rf "$here/build/docs" && mkdir -p "$src" && chmod 700 "$src"
  antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --lenient --dest-dir "$src" renderfarm.qube >/dev/null
  # No intersphinx: its inventories (docs.python.org, docs.ansible.com) are not reachable here.
  printf '\nintersphinx_mapping = {}\n' >> "$src/conf.py"
  mkdir -p "$src/rst" && chmod 700 "$src/rst"
  antsibull-docs --config-file "$src/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
    --fail-on-error --cleanup everything --dest-dir "$src/rst" renderfarm.qube
  # Not -W: links into docs.ansible.com (common return values, plugin type pages) cannot be
  # resolved without its intersphinx inventory; they stay plain text.
  sphinx-build -q -b html -c "$src" "$src/rst" "$here/build/docs/html" 2>&1 | grep -v "undefined label\|reference target not found" || true
  [[ -f $here/build/docs/html/index.html ]]
  echo "docs site: $here/build/docs/html/index.html"
}

release() {
  stage "release: changelog, artifact and docs for the version in galaxy.yml"
  local version; version=$(python3 -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
  antsibull-changelog lint
  python3 - "$version" <<'PY'
import sys, yaml
version = sys.argv[1]
releases = yaml.safe_load(open("changelogs/changelog.yaml"))["releases"]
if version not in releases:
    sys.exit("galaxy.yml version %s has no release in changelogs/changelog.yaml: run antsibull-changelog release" % version)
if ("v" + version) not in open("CHANGELOG.rst").read():
    sys.exit("CHANGELOG.rst has no section for %s: run antsibull-changelog generate" % version)
PY
  build
  docs
  echo "release $version: build/renderfarm-qube-$version.tar.gz, build/docs/html/"
}

# galaxy-importer (what Galaxy and Automation Hub run on an upload), pinned, in a venv of its
# own under .cache (its pins need not match ours). ansible-test is not run by it (that would
# need a container; the sanity stage runs the full list), its ansible-doc and ansible-lint are.
GALAXY_IMPORTER_PIN=galaxy-importer==0.4.44
importer() {
  stage "galaxy-importer on the artifact"
  local venv=$here/.cache/galaxy-importer
  if [[ ! -x $venv/bin/python || $(cat "$venv/.pin" 2>/dev/null) != "$GALAXY_IMPORTER_PIN" ]]; then
    rm -rf "$venv" && python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$GALAXY_IMPORTER_PIN"
    echo "$GALAXY_IMPORTER_PIN" > "$venv/.pin"
  fi
  local version; version=$(python3 -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
  local tarball=$here/build/renderfarm-qube-$version.tar.gz
  [[ -f $tarball ]] || { echo "no $tarball: run the build stage first" >&2; return 1; }
  # The importer requires galaxy.yml's `repository`; the project has no public home to name yet,
  # and a placeholder must not ship. So the importer reads a copy of the artifact whose
  # MANIFEST.json names the local checkout; everything else is the artifact as built.
  # Before publishing, set `repository` in galaxy.yml and drop this copy.
  # The copy also serves as the collection the importer's ansible-lint resolves renderfarm.qube
  # from (ANSIBLE_COLLECTIONS_PATH below), with a cache of its own instead of ~/.ansible.
  local work=$here/.cache/galaxy-importer-run
  local tree=$work/collections/ansible_collections/renderfarm/qube
  rm -rf "$work" && mkdir -p "$tree" "$work/home"
  tar -xzf "$tarball" -C "$tree"
  python3 - "$tree/MANIFEST.json" "file://$here" <<'PY'
import json, sys
path, repository = sys.argv[1], sys.argv[2]
with open(path) as handle:
    manifest = json.load(handle)
info = manifest["collection_info"]
if not info.get("repository"):
    print("note: galaxy.yml has no repository; the importer's copy names %s" % repository)
    info["repository"] = repository
with open(path, "w") as handle:
    json.dump(manifest, handle, indent=4)
PY
  tar -czf "$work/$(basename "$tarball")" -C "$tree" .
  (cd "$work" && PATH="$venv/bin:$PATH" ANSIBLE_HOME=$work/home ANSIBLE_COLLECTIONS_PATH=$work/collections \
     GALAXY_IMPORTER_RUN_ANSIBLE_TEST=False \
     GALAXY_IMPORTER_RUN_ANSIBLE_LINT=True GALAXY_IMPORTER_CHECK_CHANGELOG=True \
     "$venv/bin/python" -m galaxy_importer.main --print-result "$(basename "$tarball")" > importer.log 2>&1) || {
    grep -E '^(ERROR|WARNING)' "$work/importer.log" | cut -c1-400; echo "importer failed: $work/importer.log" >&2; return 1; }
  grep -E '^(ERROR|WARNING)' "$work/importer.log" | cut -c1-400 || true
  if grep -q '^ERROR' "$work/importer.log"; then return 1; fi
  echo "galaxy-importer: the artifact imports"
}

consumer() {
  stage "consumer: the artifact installed in an empty project, renderfarm.qube.site on 2 lab hosts, report, re-run changed=0"
  tests/consumer/run.sh
}

molecule_stage() {
  local scenarios=("$@")
  if [[ ${#scenarios[@]} -eq 0 ]]; then
    # The scenarios CI runs, in order (molecule/ci-scenarios.txt, one name a line).
    mapfile -t scenarios < <(grep -v '^#' molecule/ci-scenarios.txt | grep -v '^$')
  fi
  local rc=0
  for s in "${scenarios[@]}"; do
    stage "molecule test -s $s"
    # Every scenario runs; the stage fails when any of them fails.
    tests/lab/lab.sh exec molecule test -s "$s" || rc=1
  done
  return "$rc"
}

cleanup() { tests/lab/lab.sh down >/dev/null 2>&1 || true; }

# Each stage runs in its own subshell with errexit in force: called as `if stage`, bash would
# ignore errexit inside it, and a failing command before the stage's last one would pass unseen.
# The subshell also keeps a stage's exports out of the next stage.
run() {
  local name=$1; shift
  local start=$SECONDS rc=0
  ( set -e; "$@" ) &
  wait $! || rc=$?
  if [[ $rc -eq 0 ]]; then results+=("PASS $name $((SECONDS - start))s"); else results+=("FAIL $name $((SECONDS - start))s"); fi
}

summary() {
  stage "summary"
  printf '%s\n' "${results[@]}"
  local failed; failed=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL' || true)
  local passed; passed=$(printf '%s\n' "${results[@]}" | grep -c '^PASS' || true)
  echo "stages: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

case "${1:-all}" in
  lint) lint ;;
  sanity) sanity ;;
  units) units ;;
  pytest) pytest_stage ;;
  build) build ;;
  docs) docs ;;
  importer) importer ;;
  consumer) consumer ;;
  release) release ;;
  examples) examples ;;
  bad-input) trap cleanup EXIT; bad_input ;;
  leaks) trap cleanup EXIT; leaks ;;
  faults) trap cleanup EXIT; faults ;;
  parity) trap cleanup EXIT; parity ;;
  windows-ad) trap cleanup EXIT; windows_ad ;;
  molecule) shift; trap cleanup EXIT; molecule_stage "$@" ;;
  all)
    trap cleanup EXIT
    run lint lint
    run sanity sanity
    run units units
    run pytest pytest_stage
    run build build
    run docs docs
    run importer importer
    run consumer consumer
    run examples examples
    run molecule molecule_stage
    run windows-ad windows_ad
    run bad-input bad_input
    run leaks leaks
    run faults faults
    run parity parity
    summary ;;
  *) echo "usage: $0 [lint|sanity|units|pytest|build|docs|importer|consumer|release|examples|molecule [scenario...]|bad-input|leaks|faults|parity|windows-ad|all]" >&2; exit 2 ;;
esac
