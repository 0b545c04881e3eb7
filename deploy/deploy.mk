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
# One shell for the whole recipe: an `exit 0` on a recipe line of its own ends
# only that line, and make would go on to run promtool anyway. Without
# promtool the target is skipped with one line, except under CI (CI set),
# where it fails: CI must check the rules.
test-rules: ## check and unit-test alertgate's own Prometheus rules (deploy/prometheus; needs promtool, skipped without it outside CI)
	@if ! command -v $(PROMTOOL) >/dev/null 2>&1; then \
	  if [ -n "$$CI" ]; then \
	    echo "test-rules: $(PROMTOOL) not on PATH, and CI needs it (apt-get install prometheus, or PROMTOOL=/path/to/promtool)" >&2; \
	    exit 1; \
	  fi; \
	  echo "test-rules: skipped: $(PROMTOOL) not on PATH (apt-get install prometheus); CI runs it"; \
	  exit 0; \
	fi; \
	set -e; \
	echo "$(PROMTOOL) check rules $(DEPLOY_DIR)/prometheus/alertgate-rules.yml"; \
	$(PROMTOOL) check rules $(DEPLOY_DIR)/prometheus/alertgate-rules.yml; \
	echo "$(PROMTOOL) test rules $(DEPLOY_DIR)/prometheus/alertgate-rules.test.yml"; \
	$(PROMTOOL) test rules $(DEPLOY_DIR)/prometheus/alertgate-rules.test.yml
