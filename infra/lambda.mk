# Included by functions/<name>/Makefile, which `sam build` runs as `make build-<LogicalId>`
# (template.yaml: BuildMethod makefile). The first function SAM builds compiles every
# function's arm64 release bootstrap in one cargo invocation, sharing one dependency build;
# for the functions after it cargo has nothing left to do. Each then copies its own binary.
LAMBDA_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
LAMBDA_FUNCTION := $(notdir $(abspath $(dir $(firstword $(MAKEFILE_LIST)))))

build-%:
	$(MAKE) -C $(LAMBDA_ROOT) --no-print-directory lambda-binaries
	cp $(LAMBDA_ROOT)/target/lambda/$(LAMBDA_FUNCTION)/bootstrap $(ARTIFACTS_DIR)/bootstrap
