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
NAIVE_COUNTER="${NAIVE_COUNTER:-../../bin/naive-counter}"
. ../lib.sh

start_counter() {
	bg "counter-$1" "$NAIVE_COUNTER" --brokers "$BROKER" --topic events --group naive-counter \
		--influx-url "http://$INFLUX_HTTP" --db naive --windows 10s
}

case "${1:-}" in
start)
	start_influxd
	start_broker
	wait_for InfluxDB curl -sf "http://$INFLUX_HTTP/health"
	wait_for "the broker" grep -q '^ready' "$RUN/broker.log"
	start_counter 0
	start_counter 1
	wait_for "the counters" grep -q 'consuming' "$RUN/counter-1.log"
	echo "naive counter up: Kafka $BROKER (topic events), InfluxDB http://$INFLUX_HTTP (database naive)"
	;;
stop) stop_all 1 counter-0 counter-1 broker influxd ;;
start-counter) start_counter "$2" ;;
kill) signal_ KILL "counter-$2" ;;
signal) signal_ "$3" "counter-$2" ;;
alive) running "counter-$2" ;;
*) sed -n '2,17p' "$SCRIPT" >&2; exit 2 ;;
esac
