# The two commands a newcomer needs are `make dev` and `make test`; both install what the
# machine lacks (into .local/, git-ignored) before doing anything else: `make dev` only what
# the local stack runs on, `make test` everything the suite and the template checks need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
# CI builds from a clean clone: incremental compilation only adds work there.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif
# SAM CLI, cfn-lint, cargo-lambda and zig live in this venv; its python must come first on PATH
# so cargo-lambda finds zig as `python3 -m ziglang`.
SAM_ENV := PATH="$(CURDIR)/.local/venv-sam/bin:$$PATH" AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0
FUNCTION_PACKAGES := $(patsubst functions/%,-p %,$(wildcard functions/*))

.PHONY: help install install-dev dev test browser-test fuzz lint template-lint build lambda-binaries bench cost release-profiles openapi fmt

help:
	@echo "make dev            install what the local stack needs, start DynamoDB Local + moto + the local gateway"
	@echo "make test           install what is missing, lint code and template, run the whole test suite"
	@echo "make browser-test   the web client's end-to-end test in Chromium (screenshots in tests/browser/screenshots/)"
	@echo "make fuzz           longer contract fuzzing (schemathesis) and property tests (proptest)"
	@echo "make build          sam build: every function's arm64 bootstrap from one cargo invocation, and their sizes"
	@echo "make bench          benchmark report (cold starts, memory, per-route latency and cost, fan-out, workers, inbox, search, ...) into docs/performance.md"
	@echo "make cost           the monthly AWS bill at 10k, 100k and 1M daily users (infra/cost-model) into docs/scale.md"
	@echo "make release-profiles  build time, size and cold start of each candidate LTO / codegen-units setting"
	@echo "make openapi        regenerate api/openapi.json from the handlers (a test fails while it is stale)"
	@echo "make lint           cargo fmt --check and clippy -D warnings"
	@echo "make template-lint  sam validate --lint and cfn-lint on template.yaml"

install:
	@infra/scripts/install.sh all

install-dev:
	@infra/scripts/install.sh dev

dev: install-dev
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
	# The bootstrap binaries the runtime-API tests run, built with the tests in one invocation:
	# built apart, the dev-dependencies' features split the resolution and ~40 crates (the SDK
	# clients, shared, api) compiled twice.
	$(CARGO) build --workspace --bins --tests --locked
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
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} $(CARGO) test --locked -p api --test parsing_properties

# --no-cached: SAM hashes only each CodeUri folder and would ship stale binaries after an
# edit in shared/; cargo's own incremental build does the caching. SAM runs each function's
# Makefile (infra/lambda.mk), which calls `lambda-binaries` below.
build: install
	$(SAM_ENV) sam build --no-cached
	@infra/scripts/sizes.sh

# Every function's arm64 release bootstrap in one cargo invocation (target/lambda/<name>/).
lambda-binaries:
	$(SAM_ENV) cargo lambda build --release --arm64 --locked $(FUNCTION_PACKAGES)

# The benchmark report: release binaries of every function and of a hello-world baseline for
# the cold-start figures, then every benchmark; the tables go to docs/performance.md. The
# benchmarks themselves run in the dev profile: their time goes to DynamoDB Local, and a
# release build of the whole test harness would take longer than the benchmarks.
bench: install
	$(CARGO) build --release --locked $(FUNCTION_PACKAGES) -p hello-lambda
	infra/scripts/install-peers.sh
	infra/scripts/bench-report.sh
	@# The routes benchmark rewrote the cost model's measured.json: the bills follow.
	$(MAKE) --no-print-directory cost

# The monthly AWS bill at 10k, 100k and 1M daily users (infra/cost-model: profile, dated
# prices, and the route costs `make bench` measured), printed and written into docs/scale.md
# (`make bench` ends with it).
cost:
	$(CARGO) run --quiet --locked -p cost-model -- --write docs/scale.md

release-profiles: install
	infra/scripts/release-profiles.sh

openapi:
	UPDATE_OPENAPI=1 $(CARGO) test --locked -p api --test openapi_document

fmt:
	$(CARGO) fmt --all
