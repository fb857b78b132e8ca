#!/bin/sh
# naive.sh: start and stop the naive counter's pipeline by hand, and the
# node commands of target.yaml. Everything runs from this directory; pids,
# logs and data go to ./run.
#
#   ./naive.sh start            the Kafka broker (countlab broker), InfluxDB 1.8
#                               (bin/influxd) and two counter instances
#   ./naive.sh stop             stop them all and remove ./run
#   ./naive.sh start-counter N  start counter N (0 or 1) in the background
#   ./naive.sh kill N           SIGKILL counter N
#   ./naive.sh signal N SIG     send SIG (STOP, CONT) to counter N
#   ./naive.sh alive N          exit 0 while counter N runs
#
# COUNTLAB (default: countlab on PATH, else ../../bin/countlab), COUNTLAB_INFLUXD
# (default ../../bin/influxd) and NAIVE_COUNTER (default ../../bin/naive-counter:
# go build -o bin/naive-counter ./examples/naive-counter) pick the binaries.
set -eu
cd "$(dirname "$0")"
BROKER=127.0.0.1:19092
INFLUX_HTTP=127.0.0.1:18086
INFLUX_RPC=127.0.0.1:18088
RUN="$PWD/run"
COUNTLAB="${COUNTLAB:-$(command -v countlab || echo ../../bin/countlab)}"
INFLUXD="${COUNTLAB_INFLUXD:-../../bin/influxd}"
NAIVE_COUNTER="${NAIVE_COUNTER:-../../bin/naive-counter}"

pidof_() { cat "$RUN/$1.pid" 2>/dev/null || echo 0; }

running() { # running NAME: its process is there and not a zombie
	pid=$(pidof_ "$1")
	kill -0 "$pid" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

wait_for() { # wait_for WHAT CMD...: up to 60 s
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then echo "naive.sh: $what did not come up (see $RUN/*.log)" >&2; exit 1; fi
		sleep 0.2
	done
}

start_counter() {
	nohup "$NAIVE_COUNTER" --brokers "$BROKER" --topic events --group naive-counter \
		--influx-url "http://$INFLUX_HTTP" --db naive --windows 10s >>"$RUN/counter-$1.log" 2>&1 &
	echo $! >"$RUN/counter-$1.pid"
}

case "${1:-}" in
start)
	mkdir -p "$RUN/influx"
	cat >"$RUN/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "$INFLUX_RPC"
[meta]
  dir = "$RUN/influx/meta"
[data]
  dir = "$RUN/influx/data"
  wal-dir = "$RUN/influx/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[http]
  bind-address = "$INFLUX_HTTP"
  flux-enabled = true
  log-enabled = false
[logging]
  level = "warn"
[monitor]
  store-enabled = false
CONF
	nohup "$INFLUXD" run -config "$RUN/influxd.conf" >>"$RUN/influxd.log" 2>&1 &
	echo $! >"$RUN/influxd.pid"
	nohup "$COUNTLAB" broker --listen "$BROKER" --data-dir "$RUN/kafka" --partitions 4 >>"$RUN/broker.log" 2>&1 &
	echo $! >"$RUN/broker.pid"
	wait_for InfluxDB curl -sf "http://$INFLUX_HTTP/health"
	wait_for "the broker" grep -q '^ready' "$RUN/broker.log"
	start_counter 0
	start_counter 1
	wait_for "the counters" grep -q 'consuming' "$RUN/counter-1.log"
	echo "naive counter up: Kafka $BROKER (topic events), InfluxDB http://$INFLUX_HTTP (database naive)"
	;;
stop)
	for p in counter-0 counter-1 broker influxd; do
		kill -CONT "$(pidof_ $p)" 2>/dev/null || true
		kill "$(pidof_ $p)" 2>/dev/null || true
	done
	sleep 1
	for p in counter-0 counter-1 broker influxd; do kill -9 "$(pidof_ $p)" 2>/dev/null || true; done
	rm -rf "$RUN"
	;;
start-counter) start_counter "$2" ;;
kill) kill -9 "$(pidof_ "counter-$2")" ;;
signal) kill -"$3" "$(pidof_ "counter-$2")" ;;
alive) running "counter-$2" ;;
*) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
