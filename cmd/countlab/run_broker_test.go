package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// useBuiltCountlab makes the stack start its `countlab engine` and
// `countlab broker` processes from a built binary (the test binary has
// no such commands).
func useBuiltCountlab(t *testing.T) {
	t.Helper()
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	t.Cleanup(func() { engineBinary = os.Executable })
}

// reschedule shortens a chaos scenario to traffic for d and gives its
// faults these starts and durations (as many faults as pairs).
func reschedule(prefix string, d time.Duration, at ...time.Duration) func(*scenarios.Scenario) {
	short := shorten(prefix, d, 60*time.Second)
	return func(sc *scenarios.Scenario) {
		short(sc)
		sc.Faults = sc.Faults[:len(at)/2]
		for i := range sc.Faults {
			sc.Faults[i].Start, sc.Faults[i].Duration = at[2*i], at[2*i+1]
		}
	}
}

// checkChaosAll wants a passing, exact run whose faults (n, of kind)
// were each injected, healed and recovered from.
func checkChaosAll(t *testing.T, err error, rep *reports.Report, n int, kinds ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	a := rep.Accuracy
	if !rep.Pass || !a.Exact || a.ExpectedEvents < 1000 || a.CountedEvents != a.ExpectedEvents || a.Lost != 0 || a.Duplicated != 0 || a.MismatchedWindows != 0 {
		t.Fatalf("pass=%v accuracy %+v", rep.Pass, a)
	}
	if len(rep.Faults) != n {
		t.Fatalf("%d faults, want %d: %v", len(rep.Faults), n, rep.Faults)
	}
	for _, r := range rep.Faults {
		f, _ := r.(map[string]any)
		inj, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(f["injected_at"]))
		healed, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(f["healed_at"]))
		rec, ok := f["recovery_s"].(float64)
		if !slices.Contains(kinds, fmt.Sprint(f["kind"])) || f["error"] != nil || inj.IsZero() || !healed.After(inj) || !ok || rec < 0 {
			t.Fatalf("fault record %v", f)
		}
		t.Logf("%s %s: injected %s, healed %s (heal took %.2fs), recovered %.2fs after the heal",
			f["kind"], f["name"], inj.Format("15:04:05.000"), healed.Format("15:04:05.000"), f["heal_s"], rec)
	}
	t.Logf("%d events exact in %d windows; traffic %+v", a.CountedEvents, a.WindowsChecked, rep.Traffic)
}

// TestRunBrokerCrash runs broker-crash, shortened: the broker process is
// SIGKILLed mid-traffic and restarted on the same port and data dir
// twice; the run must be exact and record each recovery.
func TestRunBrokerCrash(t *testing.T) {
	influx := testInflux(t)
	useBuiltCountlab(t)
	at := []time.Duration{4 * time.Second, 4 * time.Second, 13 * time.Second, 3 * time.Second}
	if testing.Short() {
		at = at[:2]
	}
	err, rep, _ := runScenario(t, reschedule("bc-", 20*time.Second, at...), append([]string{"broker-crash"}, influx...)...)
	checkChaosAll(t, err, rep, len(at)/2, "broker-crash")
}

// TestRunWorkerPause runs worker-pause, shortened: a worker process is
// frozen longer than the session and transaction timeouts, fenced, and
// thawed; the zombie must not double count.
func TestRunWorkerPause(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunWorkerCrash covers worker processes")
	}
	influx := testInflux(t)
	useBuiltCountlab(t)
	err, rep, _ := runScenario(t, reschedule("wp-", 24*time.Second, 4*time.Second, 13*time.Second), append([]string{"worker-pause"}, influx...)...)
	checkChaosAll(t, err, rep, 1, "worker-pause")
}

// TestRunRebalanceChurn runs rebalance-churn, shortened: workers added
// and removed (gracefully) four times while the traffic flows; exact.
func TestRunRebalanceChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunBrokerCrash covers the fault schedule")
	}
	influx := testInflux(t)
	useBuiltCountlab(t)
	s := time.Second
	err, rep, _ := runScenario(t, reschedule("rc-", 24*s, 3*s, 6*s, 6*s, 5*s, 12*s, 5*s, 16*s, 4*s), append([]string{"rebalance-churn"}, influx...)...)
	checkChaosAll(t, err, rep, 4, "worker-add", "worker-remove")
}

// TestBrokerCrashGatewayRecovery measures how long the gateway takes to
// acknowledge events again after the broker process is killed and
// restarted on the same port, with the gateway's metadata ages
// (gateway.DefaultMetadataMinAge) and with franz-go's defaults (5s min,
// 5m max), three crashes each, and wants the gateway's to be faster.
func TestBrokerCrashGatewayRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("short: a measurement")
	}
	useBuiltCountlab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := &stackFlags{brokerListen: "127.0.0.1:0", partitions: 4, logLevel: "error"}
	b, err := startBrokerChild(ctx, f, t.TempDir(), func(err error) { t.Errorf("broker: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	conn := kafka.Conn{Brokers: []string{b.addr}}

	measure := func(name string, opts ...kgo.Opt) []time.Duration {
		gw, err := gateway.New(gateway.Kafka(conn), gateway.KgoOpts(opts...))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(gw)
		defer func() { srv.Close(); gw.Close() }()
		var (
			mu   sync.Mutex
			oks  []time.Time // when each acknowledged request was answered
			seq  int
			stop = make(chan struct{})
			wg   sync.WaitGroup
		)
		post := func() bool {
			mu.Lock()
			seq++
			body := fmt.Sprintf(`[{"id":"%s-%d","key":"k%d","type":"VIEW","value":1,"ts":%d}]`, name, seq, seq%10, time.Now().UnixMilli())
			mu.Unlock()
			res, err := http.Post(srv.URL+gateway.PathEvents, "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusOK
		}
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if post() {
						mu.Lock()
						oks = append(oks, time.Now())
						mu.Unlock()
					} else {
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
		}
		defer func() { close(stop); wg.Wait() }()
		firstOKAfter := func(t0 time.Time) (time.Duration, bool) {
			mu.Lock()
			defer mu.Unlock()
			for _, ok := range oks {
				if ok.After(t0) {
					return ok.Sub(t0), true
				}
			}
			return 0, false
		}
		var out []time.Duration
		for range 3 {
			time.Sleep(time.Second) // acked traffic before the crash
			if _, ok := firstOKAfter(time.Now().Add(-time.Second)); !ok {
				t.Fatalf("%s: no event acknowledged before the crash", name)
			}
			if err := b.kill(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			if err := b.restart(ctx); err != nil {
				t.Fatal(err)
			}
			ready := time.Now()
			for {
				if d, ok := firstOKAfter(ready); ok {
					out = append(out, d)
					break
				}
				if time.Since(ready) > 30*time.Second {
					t.Fatalf("%s: no event acknowledged within 30s of the restart", name)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		return out
	}
	tuned := measure("tuned")
	dflt := measure("kgo-default", kgo.MetadataMinAge(5*time.Second), kgo.MetadataMaxAge(5*time.Minute))
	t.Logf("first gateway ack after the broker restart: metadata min age %s: %v; franz-go default (5s): %v",
		gateway.DefaultMetadataMinAge, tuned, dflt)
	if slices.Max(tuned) > 3*time.Second {
		t.Errorf("gateway took %v to acknowledge again after a restart", slices.Max(tuned))
	}
}

// TestApplyFaultStack checks what broker-crash and engine.session_timeout
// ask of the stack.
func TestApplyFaultStack(t *testing.T) {
	f := func(kinds []string, brokers string, session time.Duration, wantProc bool, wantSession time.Duration, wantErr string) {
		t.Helper()
		sc := &scenarios.Scenario{}
		for _, k := range kinds {
			sc.Faults = append(sc.Faults, scenarios.Fault{Kind: k, Duration: time.Second})
		}
		sc.Engine.SessionTimeout = session
		sf := stackFlags{brokers: brokers}
		err := applyFaultStack(&sf, sc)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%v %s: got %v, want an error with %q", kinds, session, err, wantErr)
			}
			return
		}
		if err != nil || sf.brokerProc != wantProc || sf.sessionTimeout != wantSession {
			t.Errorf("%v %q %s: err %v, brokerProc %v, session %s", kinds, brokers, session, err, sf.brokerProc, sf.sessionTimeout)
		}
		if needsEngineProcs(sc) != slices.ContainsFunc(kinds, func(k string) bool { return strings.HasPrefix(k, "worker-") }) {
			t.Errorf("%v: needsEngineProcs %v", kinds, needsEngineProcs(sc))
		}
	}
	f(nil, "", 0, false, 0, "")
	f([]string{"sink-outage", "broker-crash"}, "", 0, true, 0, "")
	f([]string{"broker-crash"}, "kafka:9092", 0, false, 0, "") // an external cluster: the fault reports unsupported
	f([]string{"worker-pause"}, "", 6*time.Second, false, 6*time.Second, "")
	f([]string{"worker-add"}, "", 0, false, 0, "")
	f([]string{"worker-remove"}, "", 0, false, 0, "")
	f(nil, "", 2*time.Second, false, 0, "engine.session_timeout: 2s is outside")
	f(nil, "", time.Hour, false, 0, "engine.session_timeout: 1h0m0s is outside")
}
