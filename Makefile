# countlab: the two commands a new user types are `make run` and `make test`.
# Everything they need (Go modules, the pinned InfluxDB server) is installed
# by the targets themselves into this repository's bin/ (ignored by git).

GO          ?= go
BIN         := $(CURDIR)/bin
INFLUXD     := $(BIN)/influxd
INFLUXD_VER := v1.8.10
COUNTLAB    := $(BIN)/countlab
SCENARIO    ?= quickstart
# A safety limit per test binary; cmd/countlab, the longest (every shipped
# scenario's short form end to end), takes about 10 minutes on 2 cores.
TEST_TIMEOUT ?= 25m
FUZZTIME    ?= 10s

export COUNTLAB_INFLUXD := $(INFLUXD)
.PHONY: tools all build influxd run selfcheck smoke up test test-short vet fuzz bench clean k6-lib-test chaos stress soak soak-long plan retention

all: build influxd

build:
	$(GO) build -o $(COUNTLAB) ./cmd/countlab

# The pinned InfluxDB 1.8.10 server, built from source through the module
# proxy (no other download). Takes about a minute the first time.
influxd: $(INFLUXD)
$(INFLUXD):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) GOFLAGS= $(GO) install github.com/influxdata/influxdb/cmd/influxd@$(INFLUXD_VER)

# The main job: a scenario (default quickstart, about 80 s) on the embedded
# default stack (broker + managed InfluxDB + gateway + engine + sink +
# query), every window checked against the ledger, a readable verdict and
# reports/out/SCENARIO-TIME/report.{json,md}. make run SCENARIO=spike, ...
run: build influxd
	$(COUNTLAB) run $(SCENARIO)

# A quick end-to-end sanity check of the embedded stack (about 10 s).
selfcheck: build influxd
	$(COUNTLAB) selfcheck

# The CI-sized scenario (under 2 minutes).
smoke: build influxd
	$(COUNTLAB) run ci-smoke

# Every chaos scenario, each ending with the exact check of every window
# and its faults' recovery times in its report, then all-at-once for five
# seeds (about 20 minutes). make test runs a short form of each fault kind.
CHAOS_SCENARIOS ?= worker-crash worker-pause rebalance-churn broker-crash broker-errors network-partition network-latency sink-outage overload
CHAOS_SEEDS     ?= 1 2 3 4 5
REPORTS         ?= reports/out
chaos: build influxd
	@set -e; for s in $(CHAOS_SCENARIOS); do $(COUNTLAB) run $$s --report-dir $(REPORTS)/chaos/$$s; done; \
	for seed in $(CHAOS_SEEDS); do $(COUNTLAB) run all-at-once --fault-seed $$seed --report-dir $(REPORTS)/chaos/all-at-once-$$seed; done

# Ramp past capacity; the report says what saturated first (about 4 min).
stress: build influxd
	$(COUNTLAB) run stress --report-dir $(REPORTS)/stress

# 30 minutes at 20k events/s; each process's memory and goroutine slope,
# growth fails it. make test runs soak-short.
soak: build influxd
	$(COUNTLAB) run soak --report-dir $(REPORTS)/soak

# 2 hours at 20k events/s in bounded memory (rolling check, topic
# retention): countlab's RSS <= 1 GiB at the end, slope < 50 MiB/h.
soak-long: build influxd
	$(COUNTLAB) run soak-long --report-dir $(REPORTS)/soak-long
# Roll-ups by time and retention (about 4 min): 10s, 1m and 5m totals, the
# 10s ones expiring during the run; ranges across them exact from the
# coarser totals. make test runs retention-short.
retention: build influxd
	$(COUNTLAB) run retention --report-dir $(REPORTS)/retention

# Capacity planning on the small grid (1-2 workers x 4-8 partitions,
# under 15 minutes): sustainable rates, the USL fit, the recommendation.
PLAN ?= small
plan: build influxd
	$(COUNTLAB) plan $(PLAN) --report-dir $(REPORTS)/plan-$(PLAN)

# Start the embedded stack and keep it running until Ctrl-C.
up: build influxd
	$(COUNTLAB) up

vet:
	$(GO) vet ./...

# The whole test suite against the real embedded broker and a real influxd
# (the k6 and kcat paths need node and kcat: missing, they fail), then the
# k6 library's pure modules under Node's test runner.
# The tests' outside tools: Node.js (the k6 library's tests, under Node's
# test runner) and kcat (Debian's; the non-countlab Kafka producer of the
# check --from-log tests). As root on Debian a missing kcat is installed.
tools:
	@command -v node >/dev/null || { echo "make test needs Node.js: apt-get install -y nodejs" >&2; exit 2; }
	@command -v kcat >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat; } || \
		{ echo "make test needs kcat: apt-get install -y kcat" >&2; exit 2; }; }

test: influxd vet tools
	COUNTLAB_REQUIRE_INFLUXD=1 COUNTLAB_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) k6-lib-test

# The k6 scripts' JS library (k6/lib/): generator, ids, Zipf table,
# summaries, under Node's built-in test runner (no k6 needed; a second).
k6-lib-test:
	node --test k6/lib/

test-short: influxd
	COUNTLAB_REQUIRE_INFLUXD=1 $(GO) test -short -count=1 -timeout $(TEST_TIMEOUT) ./...

# Coverage-guided fuzzing of the decoders, and differentially of the
# engine against the oracle (FuzzVerdict: decode+validate; FuzzPipeline:
# gateway, kfake, engine worker, query service); crashers land in
# testdata/fuzz and become regular tests.
fuzz:
	$(GO) test -run=NONE -fuzz=FuzzDecodeJSON -fuzztime=$(FUZZTIME) ./engine/event/
	$(GO) test -run=NONE -fuzz=FuzzDecodeProto -fuzztime=$(FUZZTIME) ./engine/event/
	$(GO) test -run=NONE -fuzz='FuzzDecode$$' -fuzztime=$(FUZZTIME) ./engine/event/
	$(GO) test -run=NONE -fuzz=FuzzVerdict -fuzztime=$(FUZZTIME) ./internal/difftest/
	$(GO) test -run=NONE -fuzz=FuzzPipeline -fuzztime=$(FUZZTIME) -fuzzminimizetime=1x -parallel=1 ./internal/difftest/

bench: influxd
	COUNTLAB_REQUIRE_INFLUXD=1 $(GO) test -run=NONE -bench=. -benchmem -count=5 -timeout 60m ./... | tee bench.txt

clean:
	rm -rf $(BIN)/countlab bench.txt
