# lib.sh: what the example pipelines' scripts (naive-counter/naive.sh,
# reference/reference.sh) share, sourced by them from their own directory
# after they set INFLUX_HTTP, INFLUX_RPC and BROKER: the binaries, ./run,
# starting processes in the background, waiting for them, stopping them.

SCRIPT=$(basename "$0")
RUN="$PWD/run"
COUNTLAB="${COUNTLAB:-$(command -v countlab || echo ../../bin/countlab)}"
INFLUXD="${COUNTLAB_INFLUXD:-../../bin/influxd}"

pidof_() { cat "$RUN/$1.pid" 2>/dev/null || true; }

signal_() { # signal_ SIG NAME: send SIG to NAME's process; fails when it has none
	pid=$(pidof_ "$2")
	[ -n "$pid" ] && kill -"$1" "$pid" 2>/dev/null
}

running() { # running NAME: its process is there and not a zombie
	pid=$(pidof_ "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

wait_for() { # wait_for WHAT CMD...: up to 60 s
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then echo "$SCRIPT: $what did not come up (see $RUN/*.log)" >&2; exit 1; fi
		sleep 0.2
	done
}

bg() { # bg NAME CMD...: run in the background, log and pid in ./run
	name=$1; shift
	nohup "$@" >>"$RUN/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
}

start_influxd() { # InfluxDB 1.8 on INFLUX_HTTP, its data in ./run/influx
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
	bg influxd "$INFLUXD" run -config "$RUN/influxd.conf"
}

start_broker() { # countlab broker on BROKER, 4 partitions, its data in ./run/kafka
	bg broker "$COUNTLAB" broker --listen "$BROKER" --data-dir "$RUN/kafka" --partitions 4
}

stop_all() { # stop_all GRACE NAME...: SIGCONT and SIGTERM each, SIGKILL after GRACE seconds, remove ./run
	grace=$1; shift
	for p in "$@"; do
		signal_ CONT "$p" || true
		signal_ TERM "$p" || true
	done
	sleep "$grace"
	for p in "$@"; do signal_ KILL "$p" || true; done
	rm -rf "$RUN"
}
