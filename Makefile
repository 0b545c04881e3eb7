# alertgate — make help lists the targets.
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
# The real Alertmanager the tests talk to and the benchmark measures
# against: the latest release (built from its module source, see
# bench/build-alertmanager.sh), and 0.28.1, the last release `go install`
# can build, as the benchmark's second column.
ALERTMANAGER_VERSION ?= v0.35.0
ALERTMANAGER_BASELINE ?= v0.28.1
export PATH := $(TOOLS):$(PATH)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/alertgate
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/alertgate ./cmd/alertgate

.PHONY: run
run: ## run the gateway on the embedded NATS server with examples/alertgate.yaml (dry-run until keys are set)
	@echo "compiling alertgate (the first run takes a minute; later runs start at once)…"
	$(GO) run ./cmd/alertgate serve --config examples/alertgate.yaml

.PHONY: check
check: ## validate examples/alertgate.yaml and its runbooks
	$(GO) run ./cmd/alertgate check --config examples/alertgate.yaml

.PHONY: tools
tools: $(TOOLS)/alertmanager ## install test tools into .tools/bin (a real Alertmanager, built from its module source)

# .tools/bin/alertmanager points at the version the Makefile names, so
# changing ALERTMANAGER_VERSION rebuilds it.
$(TOOLS)/alertmanager: $(TOOLS)/alertmanager-$(ALERTMANAGER_VERSION)
	ln -sfn alertmanager-$(ALERTMANAGER_VERSION) $@

$(TOOLS)/alertmanager-v%:
	GO=$(GO) bench/build-alertmanager.sh v$* $@

include deploy/deploy.mk

.PHONY: test
test: tools test-rules ## vet, check formatting, check the alerting rules, run every test with the race detector
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	ALERTGATE_REQUIRE_ALERTMANAGER=1 ALERTMANAGER_BIN=$(TOOLS)/alertmanager $(GO) test -race -count=1 -timeout 8m ./...

# Every fuzz target, as package:Name. Go fuzzes one target per go test.
FUZZ_TARGETS := \
	ingest/alertmanager:FuzzParse \
	ingest/datadog:FuzzParse \
	ingest/sentry:FuzzParse \
	ingest/sentry:FuzzStringPair \
	ingest/events:FuzzParse \
	ingest/internal/jsondec:FuzzMatchesEncodingJSON \
	ingest/internal/jsondec:FuzzString \
	config:FuzzLoad \
	config:FuzzMatcher \
	runbooks:FuzzParse \
	dedup:FuzzBugState
FUZZTIME ?= 60s
# Go spends up to 60 s by default shrinking each new interesting input, which
# for the larger seeds (config files, runbooks) would eat a whole FUZZTIME;
# a crasher is still written, shrunk as far as this allows.
FUZZMINIMIZETIME ?= 5s

.PHONY: fuzz
fuzz: ## run every fuzz target FUZZTIME long (60s; make fuzz FUZZTIME=5s); fails if one finds a crasher
	@set -o pipefail; failed=0; summary=""; \
	for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
	  echo "== $$pkg $$name"; \
	  if $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$pkg 2>&1 | tee $$log; then \
	    result="no crasher"; \
	  else \
	    result="FAILED: crasher in $$pkg/testdata/fuzz/$$name (or see the output above)"; failed=1; \
	  fi; \
	  execs=$$(grep -o 'execs: [0-9]*' $$log | tail -n 1 | cut -d' ' -f2); rm -f $$log; \
	  if [ -z "$$execs" ] && [ "$$result" = "no crasher" ]; then result="FAILED: no execs: stopped before fuzzing (or no such target)"; failed=1; fi; \
	  summary+=$$(printf '%-24s %-24s %11s execs  %s' "$$pkg" "$$name" "$${execs:-?}" "$$result")$$'\n'; \
	done; \
	printf '\nfuzz, %s per target:\n%s' "$(FUZZTIME)" "$$summary"; \
	exit $$failed

.PHONY: test-faults
test-faults: tools ## the longer fault tests: SIGKILL under load, PagerDuty down 30 s
	$(GO) test -race -count=1 -tags faults -run 'Fault' -timeout 15m ./e2e/

include bench/bench.mk

.PHONY: bench
bench: bench-full ## the whole benchmark: one table against the machine's ceilings and a real Alertmanager (BENCHMARKS.md)

.PHONY: bench-micro
bench-micro: ## only the Go micro-benchmarks (parsers, route matching, policy step)
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

.PHONY: docker
docker: ## build the container image alertgate:dev
	docker build -t alertgate:dev .

.PHONY: clean
clean: ## remove build output and local data
	rm -rf bin data
