package stack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack/stacktest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrokerCrashGatewayRecovery measures how long the gateway takes to
// acknowledge events again after the broker process is killed and
// restarted on the same port, with the gateway's metadata ages
// (gateway.DefaultMetadataMinAge) and with franz-go's defaults (5s min,
// 5m max), three crashes each, and wants the gateway's to be faster.
func TestBrokerCrashGatewayRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("short: a measurement")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := defaultCfg()
	f.binary, f.logLevel = stacktest.Binary(t), slog.LevelError
	b, err := startBrokerChild(ctx, &f, t.TempDir(), func(err error) { t.Errorf("broker: %v", err) })
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
