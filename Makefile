# The commands the README names. Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint schema schema-release migrations graphiql clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "civicgrid needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,test,dev]'
	@touch $(STAMP)

## run: the product on embedded PostgreSQL and Redis, with demo tenants (Ctrl-C stops it all); PORT=8001 for another port
run: $(STAMP)
	$(BIN)/civicgrid serve $(if $(PORT),--port $(PORT))

## test: the whole suite on real embedded PostgreSQL and Redis
test: $(STAMP)
	$(BIN)/python -m pytest

## lint: ruff, the import rule, and mypy on tenants/
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy tenants

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
