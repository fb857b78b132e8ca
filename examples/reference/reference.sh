#!/bin/sh
# reference.sh: countlab's reference engine started by hand as separate
# processes, as the README shows them (countlab broker, engine x2, sink,
# query-server, gateway, and InfluxDB 1.8), and the node commands of
# target.yaml. Pids, logs and data go to ./run.
#
#   ./reference.sh start            everything, on fixed loopback ports
#   ./reference.sh stop             stop it all and remove ./run
#   ./reference.sh start-engine N   start engine worker N (0 or 1) in the background
#   ./reference.sh kill N           SIGKILL engine worker N
#   ./reference.sh signal N SIG     send SIG (STOP, CONT) to engine worker N
#   ./reference.sh alive N          exit 0 while engine worker N runs
#
# COUNTLAB (default: countlab on PATH, else ../../bin/countlab) and
# COUNTLAB_INFLUXD (default ../../bin/influxd) pick the binaries.
set -eu
cd "$(dirname "$0")"
BROKER=127.0.0.1:29092
INFLUX_HTTP=127.0.0.1:28086
INFLUX_RPC=127.0.0.1:28088
GATEWAY=127.0.0.1:28080
QUERY=127.0.0.1:28081
# The engine's rules; target.yaml's semantics say the same.
WINDOWS=10s LATENESS=15s OUT_OF_ORDER=5s
. ../lib.sh

start_engine() { # a fresh log: alive looks for this start's "engine ready"
	mv -f "$RUN/engine-$1.log" "$RUN/engine-$1.log.prev" 2>/dev/null || true
	bg "engine-$1" "$COUNTLAB" engine --brokers "$BROKER" --txn-id "countlab-engine-ref-$1" --instance-id "countlab-engine-ref-$1" \
		--windows $WINDOWS --lateness $LATENESS --out-of-orderness $OUT_OF_ORDER --session-timeout 10s
}

case "${1:-}" in
start)
	start_influxd
	start_broker
	wait_for InfluxDB curl -sf "http://$INFLUX_HTTP/health"
	curl -sf -XPOST "http://$INFLUX_HTTP/query" --data-urlencode "q=CREATE DATABASE countlab" >/dev/null
	wait_for "the broker" grep -q '^ready' "$RUN/broker.log"
	start_engine 0
	start_engine 1
	bg sink "$COUNTLAB" sink --brokers "$BROKER" --influx-url "http://$INFLUX_HTTP" --influx-bucket countlab/autogen
	bg query-server "$COUNTLAB" query-server --brokers "$BROKER" --listen "$QUERY" --windows $WINDOWS \
		--influx-url "http://$INFLUX_HTTP" --influx-bucket countlab/autogen
	bg gateway "$COUNTLAB" gateway --brokers "$BROKER" --listen "$GATEWAY"
	wait_for "engine 0" grep -q 'engine ready' "$RUN/engine-0.log"
	wait_for "engine 1" grep -q 'engine ready' "$RUN/engine-1.log"
	wait_for "the query server" curl -sf "http://$QUERY/healthz"
	wait_for "the gateway" curl -sf "http://$GATEWAY/healthz"
	echo "reference engine up: gateway http://$GATEWAY, query http://$QUERY, Kafka $BROKER, InfluxDB http://$INFLUX_HTTP"
	;;
stop) stop_all 2 gateway query-server sink engine-0 engine-1 broker influxd ;;
start-engine) start_engine "$2" ;;
kill) signal_ KILL "engine-$2" ;;
signal) signal_ "$3" "engine-$2" ;;
alive) running "engine-$2" && grep -q 'engine ready' "$RUN/engine-$2.log" ;;
*) sed -n '2,15p' "$SCRIPT" >&2; exit 2 ;;
esac
