# renderfarm.qube — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
QLAB_DIR ?= /var/lib/qube-lab
N ?= 4
export QLAB_DIR

.PHONY: help venv deps demo test lab-up lab-down lab-status lint sanity units pytest molecule build benchmark benchmark-suite docs release site

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: ## create the pinned Python virtualenv in .venv
	scripts/setup-venv.sh $(VENV)

deps: venv ## install the lab's Debian packages and build the cached base image
	tests/lab/lab.sh deps
	tests/lab/lab.sh base

demo: deps ## bring up the lab farm, run site.yml on it, submit a job to every worker
	scripts/demo.sh

test: deps ## everything CI runs: lint, sanity, unit tests, pytest, molecule on the lab
	scripts/test.sh

lab-up: deps ## bring up a lab farm: a supervisor, N workers and an AD DC (N=4)
	tests/lab/lab.sh up $(N) --dc

lab-down: ## remove the lab farm completely
	tests/lab/lab.sh down

lab-status: ## show the lab hosts
	tests/lab/lab.sh status

lint: venv ## ansible-lint (production profile) and yamllint
	scripts/test.sh lint

units: venv ## unit tests only (no lab)
	scripts/test.sh units

build: venv ## build the collection artifact
	scripts/test.sh build

benchmark: deps ## measure site.yml against Ansible's floor on the lab (N=10)
	benchmarks/run.sh $(N)

benchmark-suite: deps ## the whole benchmark in one run: N=10, N=50, 60 re-run and 3 slices of 20 (~30 min)
	benchmarks/run.sh suite

docs: venv ## lint the plugin and role docs, build the HTML docs site into build/docs/html
	scripts/test.sh docs

release: venv ## changelog lint, the artifact (build/) and the docs site, for the version in galaxy.yml
	scripts/test.sh release

site: venv ## re-run the collection on the lab farm of `make demo` after an inventory edit (ARGS=--check --diff ...)
	@test -f $(QLAB_DIR)/inventory.yml || { echo "no lab farm in $(QLAB_DIR): run make demo first" >&2; exit 1; }
	tests/lab/lab.sh exec $(VENV)/bin/ansible-playbook -i $(QLAB_DIR)/inventory.yml -i inventories/lab/hosts.yml \
	  --vault-password-file inventories/lab/vault-pass.txt site.yml $(ARGS)
