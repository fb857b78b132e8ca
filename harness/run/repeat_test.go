package run

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
)

// TestRepeat: every run gets its own directory, a failed run fails the
// repeat but not the runs after it, summary.json has every verdict, and a
// run that cannot be judged ends the repeat with its error.
func TestRepeat(t *testing.T) {
	dir := t.TempDir()
	var dirs []string
	once := func(_ context.Context, d string) (*reports.Report, error) {
		dirs = append(dirs, d)
		rep := &reports.Report{Scenario: "demo", StartedAt: time.Now(), Pass: len(dirs) != 2,
			SLO: []reports.SLOResult{{Name: "accuracy_exact", Pass: len(dirs) != 2}}}
		return rep, rep.WriteFiles(d)
	}
	sum, err := Repeat(t.Context(), 3, dir, nil, io.Discard, once)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 3 || dirs[2] != filepath.Join(dir, "run-3") {
		t.Fatalf("run dirs %q", dirs)
	}
	if sum.Pass || sum.Scenario != "demo" || len(sum.Runs) != 3 || !sum.Runs[0].Pass || sum.Runs[1].Pass || !sum.Runs[2].Pass {
		t.Fatalf("summary %+v, want runs pass/fail/pass and the repeat failed", sum)
	}
	if !strings.Contains(sum.Why(), "scenario demo failed") {
		t.Errorf("why %q", sum.Why())
	}
	var onDisk RepeatSummary
	b, err := os.ReadFile(filepath.Join(dir, RepeatFile))
	if err != nil || json.Unmarshal(b, &onDisk) != nil || len(onDisk.Runs) != 3 || onDisk.Pass {
		t.Fatalf("%s: %s (%v)", RepeatFile, b, err)
	}

	broken := errors.New("stack broken")
	n := 0
	_, err = Repeat(t.Context(), 3, t.TempDir(), nil, io.Discard, func(context.Context, string) (*reports.Report, error) { n++; return nil, broken })
	if !errors.Is(err, broken) || n != 1 {
		t.Fatalf("a run that cannot be judged: %v after %d runs, want its error after 1", err, n)
	}
	if _, err := Repeat(t.Context(), 0, dir, nil, io.Discard, once); err == nil {
		t.Fatal("0 runs accepted")
	}
}
