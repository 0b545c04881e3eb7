# deploy/deploy.mk — targets for the files under deploy/. Included by the
# Makefile (`include deploy/deploy.mk`); also works as
# `make -f Makefile -f deploy/deploy.mk test-rules`. It defines no variable
# the Makefile owns (SHELL, GO, TOOLS), so its recipes are plain sh.

# promtool comes with Prometheus (Debian/Ubuntu: apt-get install prometheus).
# The Makefile puts .tools/bin first on PATH, so a promtool there wins.
PROMTOOL ?= promtool

# The directory of this file, so paths hold however it is included.
DEPLOY_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: test-rules
test-rules: ## check and unit-test alertgate's own Prometheus rules (deploy/prometheus; needs promtool)
	@command -v $(PROMTOOL) >/dev/null 2>&1 || { \
	  echo "test-rules: $(PROMTOOL) not found. Install it with: apt-get install prometheus" >&2; \
	  echo "  (the package provides /usr/bin/promtool), or set PROMTOOL=/path/to/promtool." >&2; \
	  if [ -n "$$CI" ]; then exit 1; fi; \
	  echo "test-rules: SKIPPED outside CI (.ci/run installs promtool and fails without it)" >&2; \
	  exit 0; }
	$(PROMTOOL) check rules $(DEPLOY_DIR)/prometheus/alertgate-rules.yml
	$(PROMTOOL) test rules $(DEPLOY_DIR)/prometheus/alertgate-rules.test.yml
