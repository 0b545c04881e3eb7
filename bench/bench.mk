# bench/bench.mk — the whole benchmark in one command. The Makefile includes
# this file and points `make bench` at bench-full; it also works alone:
#   make -f bench/bench.mk bench-full
# Prints one table (ceilings, alertgate vs a real Alertmanager, end to end,
# memory and start, Go micro-benchmarks, pprof breakdown); profiles and
# results.json go to $(BENCH_OUT). Under 10 minutes on 2 cores.
# Extra flags: make bench-full BENCH_FLAGS='--duration 10s --skip profile'
# (bin/benchall --help lists them).

GO ?= go
BENCH_TOOLS ?= $(if $(TOOLS),$(TOOLS),$(CURDIR)/.tools/bin)
BENCH_ALERTMANAGER_VERSION ?= $(if $(ALERTMANAGER_VERSION),$(ALERTMANAGER_VERSION),v0.35.0)
BENCH_ALERTMANAGER_BASELINE ?= $(if $(ALERTMANAGER_BASELINE),$(ALERTMANAGER_BASELINE),v0.28.1)
BENCH_OUT ?= $(CURDIR)/bin/bench
BENCH_FLAGS ?=

.PHONY: bench-full
bench-full: $(BENCH_TOOLS)/alertmanager $(BENCH_TOOLS)/alertmanager-$(BENCH_ALERTMANAGER_BASELINE) ## whole benchmark: one table vs ceilings and Alertmanager (<10 min on 2 cores)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/alertgate ./cmd/alertgate
	$(GO) build -o bin/benchall ./bench/cmd/benchall
	$(GO) build -o bin/alertgate-load ./cmd/alertgate-load
	./bin/benchall --alertgate bin/alertgate --alertmanager $(BENCH_TOOLS)/alertmanager --alertmanager-baseline $(BENCH_TOOLS)/alertmanager-$(BENCH_ALERTMANAGER_BASELINE) --out $(BENCH_OUT) $(BENCH_FLAGS)

# The Makefile's tools target installs the same binary; this rule is for
# the fragment used on its own.
ifndef TOOLS
$(BENCH_TOOLS)/alertmanager: $(BENCH_TOOLS)/alertmanager-$(BENCH_ALERTMANAGER_VERSION)
	ln -sfn alertmanager-$(BENCH_ALERTMANAGER_VERSION) $@

$(BENCH_TOOLS)/alertmanager-v%:
	GO=$(GO) bench/build-alertmanager.sh v$* $@
endif
