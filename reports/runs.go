package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Run is one run's report.json as the gate reads it.
type Run struct {
	// Path is the report.json.
	Path   string
	Report *Report
	// Machine is the CPU model of the machine the run ran on, from the
	// report's provenance block ("" when the report has none).
	Machine string
}

// LoadRuns reads the report.json of each argument: a report.json file, a
// run's directory (DIR/report.json), or a directory of runs (each
// DIR/*/report.json, as `countlab run --repeat` writes them).
func LoadRuns(args ...string) ([]Run, error) {
	var out []Run
	for _, a := range args {
		paths, err := reportPaths(a)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			r, err := loadRun(p)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no report.json given")
	}
	return out, nil
}

func reportPaths(arg string) ([]string, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{arg}, nil
	}
	if p := filepath.Join(arg, JSONFile); fileExists(p) {
		return []string{p}, nil
	}
	paths, _ := filepath.Glob(filepath.Join(arg, "*", JSONFile))
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no report.json in it nor in its subdirectories", arg)
	}
	sort.Strings(paths)
	return paths, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func loadRun(path string) (Run, error) {
	r, err := ReadFile(path)
	if err != nil {
		return Run{}, err
	}
	b, _ := os.ReadFile(path)
	var prov struct {
		Provenance map[string]any `json:"provenance"`
	}
	_ = json.Unmarshal(b, &prov) // ReadFile parsed it already
	return Run{Path: path, Report: r, Machine: cpuModel(prov.Provenance)}, nil
}

// cpuModel finds the CPU model in a provenance block: a string under a key
// naming the cpu (cpu_model, cpu), at its top or one level down.
func cpuModel(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := p[k].(type) {
		case string:
			if strings.Contains(strings.ToLower(k), "cpu") {
				return v
			}
		case map[string]any:
			if m := cpuModel(v); m != "" {
				return m
			}
		}
	}
	return ""
}

// Reports are the runs' reports.
func Reports(runs []Run) []*Report {
	out := make([]*Report, len(runs))
	for i, r := range runs {
		out[i] = r.Report
	}
	return out
}

// Paths are the runs' report.json paths.
func Paths(runs []Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Path
	}
	return out
}

// Comparable checks that the baseline's runs and the candidate's can be
// compared: each is a countlab report that was not aborted, of the same
// scenario with the same duration and seed (an error refuses the
// comparison). Differences that do not refuse it (another machine,
// another traffic or engine configuration, a machine not recorded) are
// returned as flags.
func Comparable(base, cur []Run) (flags []string, err error) {
	all := append(append([]Run{}, base...), cur...)
	for _, r := range all {
		if r.Report.Scenario == "" || r.Report.StartedAt.IsZero() {
			return nil, fmt.Errorf("%s: not a countlab report.json (no scenario or started_at)", r.Path)
		}
		if a := r.Report.Aborted; a != nil {
			return nil, fmt.Errorf("%s: the run aborted at %.0fs (%s): its figures are not a whole run", r.Path, a.AtS, a.Reason)
		}
	}
	ref := all[0]
	for _, r := range all[1:] {
		if r.Report.Scenario != ref.Report.Scenario {
			return nil, fmt.Errorf("%s is scenario %s, %s is %s: different scenarios are not compared", ref.Path, ref.Report.Scenario, r.Path, r.Report.Scenario)
		}
		for _, k := range []string{"duration", "seed"} {
			if a, b := configValue(ref.Report, k), configValue(r.Report, k); a != b {
				return nil, fmt.Errorf("%s has %s %s, %s has %s %s: runs of another %s are not compared", ref.Path, k, a, r.Path, k, b, k)
			}
		}
	}
	machines := map[string][]string{}
	for _, r := range all {
		m := r.Machine
		if m == "" {
			m = "(not recorded)"
		}
		machines[m] = append(machines[m], filepath.Base(filepath.Dir(r.Path)))
	}
	if len(machines) > 1 {
		var ms []string
		for m, rs := range machines {
			ms = append(ms, fmt.Sprintf("%s: %s", m, strings.Join(rs, " ")))
		}
		slices.Sort(ms)
		flags = append(flags, "the runs come from different machines (CPU model): "+strings.Join(ms, "; "))
	}
	for _, k := range []string{"traffic", "engine", "faults", "probes"} {
		for _, r := range all[1:] {
			if !reflect.DeepEqual(comparedSection(ref.Report, k), comparedSection(r.Report, k)) {
				flags = append(flags, fmt.Sprintf("%s's %s configuration differs from %s's", r.Path, k, ref.Path))
				break
			}
		}
	}
	return flags, nil
}

func configSection(r *Report, key string) any {
	return r.Config[key]
}

// comparedSection is a config section as compared: the traffic without
// its key prefix (a run against a shared cluster gets its own).
func comparedSection(r *Report, key string) any {
	v := configSection(r, key)
	t, ok := v.(map[string]any)
	if key != "traffic" || !ok {
		return v
	}
	keys, _ := t["keys"].(map[string]any)
	out, outKeys := map[string]any{}, map[string]any{}
	for k, x := range t {
		out[k] = x
	}
	for k, x := range keys {
		if k != "prefix" {
			outKeys[k] = x
		}
	}
	out["keys"] = outKeys
	return out
}

func configValue(r *Report, key string) string {
	v := configSection(r, key)
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
}
