# idmesh — every developer task is a target here; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
RUN := $(UV) run --frozen
PROTO_FILES := $(shell find protos/idmesh -name '*.proto' | sort)
# $(call apt_install,COMMAND,PACKAGE): Debian's PACKAGE unless COMMAND is already there; without
# recommends (docker-compose would otherwise pull in the docker.io engine). As root, or through
# sudo when there is one; otherwise it stops with a message naming the package to install.
apt_install = command -v $(1) >/dev/null || { \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; \
	else echo "$(1) is missing: install Debian's $(2) package (apt-get install $(2)) as root," \
		"or run make as root or with sudo" >&2; exit 1; fi; \
	echo "$(1) is missing: installing Debian's $(2)"; \
	$$sudo apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get install --yes --quiet --no-install-recommends $(2) >/dev/null && \
	command -v $(1) >/dev/null || { echo "installing Debian's $(2) did not provide $(1)" >&2; exit 1; }; }

.PHONY: help
help: ## List the targets
	@if [ -t 1 ]; then bold='\033[1m'; plain='\033[0m'; fi; \
	awk -v bold="$$bold" -v plain="$$plain" 'BEGIN {FS = ":.*## "} \
		/^[a-z-]+:.*## / {printf "  %s%-12s%s %s\n", bold, $$1, plain, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install uv if missing, then every package and tool into .venv (offline-safe after the first run)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --all-packages

.PHONY: proto
proto: ## Regenerate the Python code and typed stubs from protos/
	$(RUN) python -m grpc_tools.protoc -I protos \
		--python_out=protos --mypy_out=protos \
		--grpc_python_out=protos --mypy_grpc_out=protos \
		$(PROTO_FILES)

.PHONY: proto-check
proto-check: ## Fail when the committed generated code is stale
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(RUN) python -m grpc_tools.protoc -I protos \
		--python_out=$$tmp --mypy_out=$$tmp --grpc_python_out=$$tmp --mypy_grpc_out=$$tmp \
		$(PROTO_FILES) && \
	for f in $$(cd $$tmp && find . -type f -name '*_pb2*'); do \
		cmp -s $$tmp/$$f protos/$$f || { echo "stale generated code: protos/$${f#./} (run make proto)"; exit 1; }; \
	done && echo "generated code is up to date"

.PHONY: lint
lint: ## ruff format check, ruff, mypy strict
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy libs/meshkit/src services/*/src gateway/src cli/src infra tests
	$(MAKE) --no-print-directory deploy-check

# Everything is parsed and validated here, nothing is deployed: no cluster and no Docker engine.
.PHONY: deploy-check
deploy-check: deploy-tools ## Validate Dockerfile, compose, kustomize overlays (strict schemas) and all YAML, offline
	$(RUN) python -m infra.check

# deploy-check's one tool outside .venv. Debian's docker-compose is the Python v1 parser: it
# validates the compose file and never needs an engine. Without recommends: no docker.io.
.PHONY: deploy-tools
deploy-tools: ## Install the system package deploy-check needs (Debian's docker-compose), as root or with sudo
	@$(call apt_install,docker-compose,docker-compose)
	@docker-compose version --short

# What the test suites drive outside .venv: Debian's chromium for the sign-in pages (never a
# downloaded browser) and Debian's xmlsec1, with which pysaml2, the second SAML IdP, signs.
.PHONY: test-tools
test-tools: ## Install Debian's chromium and xmlsec1 for the browser and SAML tests, as root or with sudo
	@$(call apt_install,chromium,chromium)
	@$(call apt_install,xmlsec1,xmlsec1)
	@chromium --version 2>/dev/null
	@xmlsec1 --version

.PHONY: fmt
fmt: ## Format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# The system tools the suites drive (deploy-tools, test-tools) are installed first, so that the
# README's test command passes on a fresh machine with nothing else typed.
# python -m pytest, not pytest: it puts the checkout root on sys.path, where the e2e tests
# import the launcher (infra.dev.mesh) and their helpers (tests.e2e.*).
.PHONY: test
test: setup deploy-tools test-tools proto-check ## Every suite: unit, integration (real PostgreSQL), end-to-end (real processes), SCIM conformance tools
	$(RUN) python -m pytest tests/unit tests/integration tests/e2e tests/deploy tests/conformance

.PHONY: run
run: setup ## The whole mesh on 127.0.0.1 (embedded PostgreSQL unless DATABASE_URL is set)
	$(RUN) python -m infra.dev.run

.PHONY: bench
bench: setup ## Benchmarks: print one table of figures from one run
	$(RUN) python -m tests.bench

.PHONY: bench-compare
bench-compare: setup ## Compare the latest stored bench run with the previous one
	$(RUN) python -m tests.bench.compare

.PHONY: clean
clean: ## Stop nothing, delete local state (IDMESH_DATA_DIR, default .data/)
	rm -rf -- "$${IDMESH_DATA_DIR:-.data}"
