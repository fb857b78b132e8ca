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
# scenario's short form end to end), takes about 18 minutes on 2 cores in
# one process (make test splits it: TEST_SHARDS).
TEST_TIMEOUT ?= 40m
FUZZTIME    ?= 10s

export COUNTLAB_INFLUXD := $(INFLUXD)
.PHONY: tools all build influxd run selfcheck smoke up test test-short vet fuzz bench clean k6-lib-test chaos stress soak soak-long plan retention test-long bench-ratio bench-instructions bench-50k

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
# check --from-log tests). As root on Debian a missing one is installed
# (apt-get, system-wide); otherwise the target names the package and fails.
tools:
	@for t in node:nodejs kcat:kcat; do cmd=$${t%%:*}; pkg=$${t#*:}; \
		command -v $$cmd >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg; } || \
			{ echo "make test needs $$cmd: apt-get install -y $$pkg (as root)" >&2; exit 2; }; }; done

# Tests too long for make test (each has a shorter sibling there).
test-long: influxd tools
	COUNTLAB_LONG=1 COUNTLAB_REQUIRE_INFLUXD=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'TestRunRollingCheckAborts' ./cmd/countlab/

# The whole suite. cmd/countlab (every shipped scenario's short form end to
# end) is ~18 minutes of one process that mostly waits on its runs (load
# under 1 on 2 cores), so it runs as TEST_SHARDS go test processes, each
# every TEST_SHARDS-th of its tests in source order, beside one process
# running the other packages one at a time: about 10 minutes in all.
# Every test still runs exactly once; the exit status fails if any did.
TEST_SHARDS ?= 2
CMD_PKG     := ./cmd/countlab
test: influxd vet tools
	@set -e; export COUNTLAB_REQUIRE_INFLUXD=1 COUNTLAB_REQUIRE_TOOLS=1; \
	tests=$$($(GO) test -list '^Test' $(CMD_PKG) | grep '^Test'); \
	others=$$($(GO) list ./... | grep -v '/cmd/countlab$$'); \
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) $$others & pids=$$!; \
	for i in $$(seq 0 $$(($(TEST_SHARDS)-1))); do \
		names=$$(echo "$$tests" | awk -v n=$(TEST_SHARDS) -v i=$$i 'NR % n == i' | paste -sd'|' -); \
		[ -n "$$names" ] || continue; \
		$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run "^($$names)$$" $(CMD_PKG) & pids="$$pids $$!"; \
	done; \
	rc=0; for p in $$pids; do wait $$p || rc=1; done; \
	[ $$rc = 0 ] || { echo "make test: a test failed (above)" >&2; exit 1; }
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

# Efficiency figures (README "Performance"). bench-ratio: BenchmarkPipeline
# (the engine path on in-process kfake beside the raw produce of the same
# records; RATIO_EVENTS events a run: at 300,000 a run is 0.6 s and a few
# commits, and its ratio moved by half between runs) BENCH_COUNT times,
# each run's pipeline/raw ratio and CPU-µs per event, then the medians;
# wall-clock: take it on a quiet machine.
# bench-instructions: the same benchmark under valgrind (callgrind), one
# run per phase, instructions per event of the raw produce and of the
# pipeline and their ratio: independent of the machine's load.
# bench-50k: steady-50k BENCH_COUNT times, each run's cpu line and the
# machine's load average.
BENCH_COUNT  ?= 3
BENCH_EVENTS ?= 100000
RATIO_EVENTS ?= 1000000
MEDIAN       := sort -n | awk '{v[NR] = $$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
bench-ratio:
	@COUNTLAB_BENCH_EVENTS=$(RATIO_EVENTS) $(GO) test -run '^$$' -bench '^BenchmarkPipeline$$' -benchtime 1x -count $(BENCH_COUNT) -timeout 30m ./engine/aggregate/ > bench-ratio.txt
	@awk '/^BenchmarkPipeline/ {for (i = 3; i < NF; i++) m[$$(i+1)] = $$i; \
	  printf "run %d: ratio %s (pipeline %.0f, raw produce %.0f events/s, after/before %s), %s CPU-µs/event (raw produce %s), %s totals/event, %d commits\n", \
	  ++n, m["ratio"], m["events/s"], m["raw-produce-events/s"], m["raw-after/before"], m["cpu-µs/event"], m["raw-cpu-µs/event"], m["totals/event"], m["commits"]}' bench-ratio.txt
	@printf "median: ratio %s, %s CPU-µs/event, raw produce %s CPU-µs/event; load average %s\n" \
	  "$$(grep '^BenchmarkPipeline' bench-ratio.txt | grep -o '[0-9.]* ratio' | cut -d' ' -f1 | $(MEDIAN))" \
	  "$$(grep '^BenchmarkPipeline' bench-ratio.txt | grep -o '[0-9.]* cpu-µs/event' | cut -d' ' -f1 | $(MEDIAN))" \
	  "$$(grep '^BenchmarkPipeline' bench-ratio.txt | grep -o '[0-9.]* raw-cpu-µs/event' | cut -d' ' -f1 | $(MEDIAN))" \
	  "$$(cut -d' ' -f1-3 /proc/loadavg)"

bench-instructions:
	@command -v valgrind >/dev/null || { echo "bench-instructions needs valgrind (apt-get install valgrind)"; exit 2; }
	$(GO) test -c -o $(BIN)/aggregate.test ./engine/aggregate/
	@for ph in gen raw full; do \
	  GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off COUNTLAB_BENCH_EVENTS=$(BENCH_EVENTS) COUNTLAB_BENCH_PHASES=$$ph \
	    valgrind --tool=callgrind --callgrind-out-file=$(BIN)/callgrind.$$ph \
	    $(BIN)/aggregate.test -test.run '^$$' -test.bench '^BenchmarkPipeline$$' -test.benchtime 1x > $(BIN)/callgrind.$$ph.log 2>&1 || exit 1; \
	done
	@g=$$(awk '/^totals:/ {print $$2}' $(BIN)/callgrind.gen); r=$$(awk '/^totals:/ {print $$2}' $(BIN)/callgrind.raw); \
	f=$$(awk '/^totals:/ {print $$2}' $(BIN)/callgrind.full); \
	awk -v g=$$g -v r=$$r -v f=$$f -v n=$(BENCH_EVENTS) 'BEGIN {printf "instructions per event: raw produce %.0f, pipeline %.0f; ratio (raw/pipeline) %.3f (%d events; gen %.0f, raw %.0f, full %.0f)\n", (r-g)/n, (f-r)/n, (r-g)/(f-r), n, g, r, f}'

bench-50k: build influxd
	@for i in $$(seq $(BENCH_COUNT)); do \
	  echo "run $$i: load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  $(COUNTLAB) run steady-50k --report-dir $(REPORTS)/bench-50k-$$i | grep -E '^  cpu:|^verdict|freshness' ; \
	done

clean:
	rm -rf $(BIN)/countlab bench.txt bench-ratio.txt
