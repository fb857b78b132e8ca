package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/countlab/countlab/scenarios"
)

// The regression gate's flags (harness/run does the wiring, reports.Gate
// the statistics): run --baseline and --repeat, and the hidden planted
// regressions that show the gate catches them.

// plantQueryDelayFlag is the hidden --plant-query-delay-ms=N flag of run,
// TEST ONLY: the harness answers every query N ms late (a handler in front
// of the query service), a planted regression for the gate.
const plantQueryDelayFlag = "plant-query-delay-ms"

// plantSlowGatewayFlag is the hidden --plant-slow-gateway flag of run,
// TEST ONLY: the gateway admits half the scenario's peak rate
// (engine.gateway_max_events_per_s halved), a planted regression for the
// gate.
const plantSlowGatewayFlag = "plant-slow-gateway"

// listFlag is a flag given several times or with comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// delayHandler answers every request d late (--plant-query-delay-ms).
func delayHandler(d time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// halveGateway halves the gateway's admission (--plant-slow-gateway): a
// capped gateway's cap, or half the scenario's peak offered rate.
func halveGateway(sc *scenarios.Scenario) {
	if sc.Engine.GatewayMaxEventsPerS > 0 {
		sc.Engine.GatewayMaxEventsPerS /= 2
		return
	}
	r := sc.Traffic.Rate
	sc.Engine.GatewayMaxEventsPerS = max(r.EventsPerS, r.ToEventsPerS, r.PeakEventsPerS) / 2
}
