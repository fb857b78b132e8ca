package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/scenarios"
)

// rollingHook shortens ci-smoke to 30 s with a short lateness, turns the
// rolling check on (looks every 2 s, a 10 s margin) and bounds the
// embedded broker's topics.
func rollingHook(prefix string, abort bool) func(*scenarios.Scenario) {
	return func(sc *scenarios.Scenario) {
		shorten(prefix, 30*time.Second, 60*time.Second)(sc)
		sc.Engine.Lateness, sc.Engine.OutOfOrderness = 3*time.Second, time.Second
		sc.RollingCheck = &scenarios.RollingCheck{Enabled: true, Every: 2 * time.Second, Settle: 2 * time.Second, Margin: 10 * time.Second,
			AbortOnMismatch: abort, IdentityMargin: 5 * time.Second}
		sc.TopicRetention = &scenarios.TopicRetention{Events: time.Minute, Side: time.Minute, Changelog: 20 * time.Minute}
	}
}

// TestRunRollingCheck runs ci-smoke with the rolling check on the real
// embedded stack (kfake with retention, the engine, influxd, the query
// service): most windows are checked during the run and their truth
// dropped, the rest after it, identities are forgotten, and the run ends
// exact with every window accounted for once.
func TestRunRollingCheck(t *testing.T) {
	influx := testInflux(t)
	err, rep, _ := runScenario(t, rollingHook("rc-", true), append([]string{"ci-smoke"}, influx...)...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	acc := rep.Accuracy
	rc := acc.Rolling
	if rc == nil {
		t.Fatal("no accuracy.rolling in report.json")
	}
	t.Logf("windows %d: %d checked during the run (%d looks), %d at the end; forgotten %d; expected %d counted %d", acc.WindowsChecked,
		rc.WindowsChecked, rc.Steps, acc.WindowsChecked-rc.WindowsChecked, rc.Forgotten, acc.ExpectedEvents, acc.CountedEvents)
	if !acc.Exact || !rep.Pass || rep.Aborted != nil {
		t.Fatalf("exact=%v pass=%v aborted=%+v; accuracy %+v rolling %+v", acc.Exact, rep.Pass, rep.Aborted, acc, rc)
	}
	if rc.WindowsChecked < acc.WindowsChecked/4 || rc.WindowsChecked == acc.WindowsChecked || rc.MismatchedWindows != 0 || rc.AfterTaken != 0 ||
		rc.Forgotten == 0 || acc.CountedEvents != acc.ExpectedEvents || acc.Store == nil || acc.Store.WindowsChecked < acc.WindowsChecked {
		t.Fatalf("accuracy %+v rolling %+v", acc, rc)
	}
}

// TestRunRollingCheckAborts: with a planted engine bug the rolling check
// finds a window still wrong past its margin during the run and, with
// abort_on_mismatch, aborts it; the check after the run finds it too.
func TestRunRollingCheckAborts(t *testing.T) {
	if testing.Short() || os.Getenv("COUNTLAB_LONG") == "" {
		// make test keeps under ~15 min: the abort machinery is
		// TestRunAbort's, the mid-run mismatch reports' TestRollingMismatch.
		t.Skip("a minute-long run: make test-long (COUNTLAB_LONG=1)")
	}
	influx := testInflux(t)
	hook := rollingHook("rb-", true)
	err, rep, _ := runScenario(t, func(sc *scenarios.Scenario) {
		hook(sc)
		sc.Duration, sc.DrainTimeout = 60*time.Second, 15*time.Second
	}, append([]string{"ci-smoke", "--plant-bug=20"}, influx...)...)
	if err == nil {
		t.Fatal("run passed with a planted bug")
	}
	rc := rep.Accuracy.Rolling
	if rep.Aborted == nil || !strings.Contains(rep.Aborted.Reason, "rolling check") || rc == nil || rc.MismatchedWindows == 0 || len(rc.WorstWindows) == 0 ||
		rep.Accuracy.Exact || rep.Accuracy.MismatchedWindows == 0 {
		t.Fatalf("aborted %+v accuracy %+v rolling %+v", rep.Aborted, rep.Accuracy, rc)
	}
	t.Logf("aborted at %.0fs: %s; mid-run mismatches %d, at the end %d", rep.Aborted.AtS, rep.Aborted.Reason, rc.MismatchedWindows, rep.Accuracy.MismatchedWindows)
}
