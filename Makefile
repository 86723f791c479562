# The commands the README names. Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every dependency pinned with its hashes (`make lock` writes both): the image installs LOCK (the runtime), make and
# CI install DEV_LOCK (runtime, embedded services, tests, lint), the same versions.
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
EXTRAS   := embedded test dev
# The Kubernetes version the manifests are validated against (kubernetes-validate ships its schemas: offline).
K8S_VERSION ?= 1.31.0
COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

.PHONY: run test lint deploy-check lock schema schema-release migrations graphiql clean

# Exactly the lock: hashes checked, nothing resolved (--no-deps); then civicgrid itself, then a check that the lock
# still satisfies pyproject.toml (a dependency added without `make lock` fails here, naming it).
$(STAMP): pyproject.toml $(DEV_LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "civicgrid needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python deploy/lockcheck.py $(EXTRAS)
	@touch $(STAMP)

## lock: after changing pyproject.toml, pin every dependency with hashes (requirements-dev.lock, requirements.lock); keeps existing pins unless UPGRADE=1
lock:
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet 'uv>=0.5'; }
	$(COMPILE) $(addprefix --extra ,$(EXTRAS)) -o $(DEV_LOCK)
	$(COMPILE) -c $(DEV_LOCK) -o $(LOCK)

## run: the product on embedded PostgreSQL and Redis, with demo tenants (Ctrl-C stops it all); PORT=8001 for another port
run: $(STAMP)
	$(BIN)/civicgrid serve $(if $(PORT),--port $(PORT))

## test: the whole suite on real embedded PostgreSQL and Redis
test: $(STAMP)
	$(BIN)/python -m pytest

## lint: ruff, the import rule, mypy on tenants/, and the deploy checks
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy tenants
	$(MAKE) --no-print-directory deploy-check

## deploy-check: the Kubernetes manifests against the schemas of K8S_VERSION (strict), the Dockerfile with hadolint
deploy-check: $(STAMP)
	$(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION) deploy/k8s/*.yaml
	$(BIN)/hadolint deploy/Dockerfile

## schema: regenerate schema.graphql from the code
schema: $(STAMP)
	$(BIN)/civicgrid export-schema

## schema-release: at a release, also store schema.graphql as tests/schema_released.graphql (the breaking-change baseline)
schema-release: $(STAMP)
	$(BIN)/civicgrid export-schema --release

## migrations: generate a migration for model changes (needs DATABASE_OWNER_URL or the embedded default)
migrations: $(STAMP)
	$(BIN)/tortoise makemigrations

## graphiql: download GraphiQL's pinned assets from the npm registry into api/static/graphiql/, checking their sha256
graphiql: $(STAMP)
	$(BIN)/python scripts/update_graphiql.py

clean:
	rm -rf $(VENV) .civicgrid .pytest_cache
