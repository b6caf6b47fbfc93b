# The two commands a newcomer needs are `make dev` and `make test`; both install what the
# machine lacks (into .local/, git-ignored) before doing anything else.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
# SAM CLI, cfn-lint, cargo-lambda and zig live in this venv; its python must come first on PATH
# so cargo-lambda finds zig as `python3 -m ziglang`.
SAM_ENV := PATH="$(CURDIR)/.local/venv-sam/bin:$$PATH" AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0

.PHONY: help install dev test browser-test fuzz lint template-lint build bench fmt

help:
	@echo "make dev            install what is missing, start DynamoDB Local + moto + the local gateway"
	@echo "make test           install what is missing, lint code and template, run the whole test suite"
	@echo "make browser-test   the web client's end-to-end test in Chromium (screenshots in tests/browser/screenshots/)"
	@echo "make fuzz           longer contract fuzzing (schemathesis) and property tests (proptest)"
	@echo "make build          sam build (arm64 bootstrap binaries via cargo-lambda) and print their sizes"
	@echo "make bench          benchmark report (cold starts, memory, per-route latency and cost, fan-out, workers) into docs/performance.md"
	@echo "make lint           cargo fmt --check and clippy -D warnings"
	@echo "make template-lint  sam validate --lint and cfn-lint on template.yaml"

install:
	@infra/scripts/install.sh

dev: install
	@infra/scripts/dev.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

template-lint: install
	$(SAM_ENV) sam validate --lint
	$(SAM_ENV) cfn-lint template.yaml

# Unit tests need no emulator; the integration tests get their own DynamoDB Local and moto,
# started on free ports and stopped by PID when the run ends.
test: install lint template-lint
	$(CARGO) build --workspace --bins --locked   # the bootstrap binaries the runtime-API tests run
	infra/scripts/with-emulators.sh $(CARGO) test --workspace --locked --no-fail-fast
	infra/scripts/fuzz-api.sh   # bounded schemathesis run against the local gateway
	infra/scripts/browser-test.sh   # the web client in Chromium, two people chatting

browser-test: install
	$(CARGO) build --locked -p local-gateway
	infra/scripts/browser-test.sh

# Longer runs of the same fuzzers: schemathesis with many more examples per operation, and
# the property tests with 20,000 cases each.
fuzz: install
	$(CARGO) build --locked -p local-gateway
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_TIME=$${FUZZ_TIME:-1200} infra/scripts/fuzz-api.sh
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} $(CARGO) test --locked -p shared --test parsing_properties

# --no-cached: SAM hashes only each CodeUri folder and would ship stale binaries after an
# edit in shared/; cargo's own incremental build does the caching.
build: install
	$(SAM_ENV) sam build --no-cached --beta-features
	@infra/scripts/sizes.sh

# The benchmark report: release binaries of every function and of a hello-world baseline for
# the cold-start figures, then every benchmark; the tables go to docs/performance.md. The
# benchmarks themselves run in the dev profile: their time goes to DynamoDB Local, and a
# release build of the whole test harness would take longer than the benchmarks.
FUNCTION_PACKAGES := $(patsubst functions/%,-p %,$(wildcard functions/*))
bench: install
	$(CARGO) build --release --locked $(FUNCTION_PACKAGES) -p hello-lambda
	infra/scripts/bench-report.sh

fmt:
	$(CARGO) fmt --all
