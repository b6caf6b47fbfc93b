# The two commands a newcomer needs are `make dev` and `make test`; both install what the
# machine lacks (into .local/, git-ignored) before doing anything else.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help install dev test unit lint fmt

help:
	@echo "make dev    install what is missing, start DynamoDB Local + moto + the local gateway"
	@echo "make test   install what is missing, then lint and the whole test suite"
	@echo "make lint   cargo fmt --check and clippy -D warnings"

install:
	@infra/scripts/install.sh

dev: install
	@infra/scripts/dev.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# Unit tests need no emulator; the integration tests get their own DynamoDB Local and moto,
# started on free ports and stopped by PID when the run ends.
test: install lint
	infra/scripts/with-emulators.sh $(CARGO) test --workspace --locked --no-fail-fast

fmt:
	$(CARGO) fmt --all
