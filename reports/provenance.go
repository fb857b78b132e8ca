package reports

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Provenance says what produced a report and where: the build (module
// version, VCS revision, Go version), the machine (OS, architecture, CPU
// model and count, memory, hostname) and the command line, with the value
// of every flag whose name contains "token" or "password" redacted.
// Two reports compare fairly only when their provenance does.
type Provenance struct {
	// Module is countlab's module path and Version its version from the
	// build info ("(devel)" for a build from a work tree).
	Module  string `json:"module"`
	Version string `json:"version"`
	// VCSRevision, VCSTime and VCSModified are the build's vcs.revision,
	// vcs.time and vcs.modified settings ("" / false when unknown).
	VCSRevision string `json:"vcs_revision,omitempty"`
	VCSTime     string `json:"vcs_time,omitempty"`
	VCSModified bool   `json:"vcs_modified"`
	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	// CPUModel is /proc/cpuinfo's "model name" ("" elsewhere); CPUs is
	// runtime.NumCPU.
	CPUModel string `json:"cpu_model,omitempty"`
	CPUs     int    `json:"cpus"`
	// MemoryBytes is /proc/meminfo's MemTotal (0 elsewhere).
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	// CommandLine is the process's arguments, secrets redacted.
	CommandLine []string `json:"command_line"`
}

// NewProvenance is the provenance of this process, run with args
// (os.Args, say).
func NewProvenance(args []string) Provenance {
	p := Provenance{
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		CPUs:        runtime.NumCPU(),
		CommandLine: RedactArgs(args),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		p.Module, p.Version = bi.Main.Path, bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				p.VCSRevision = s.Value
			case "vcs.time":
				p.VCSTime = s.Value
			case "vcs.modified":
				p.VCSModified = s.Value == "true"
			}
		}
	}
	p.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		p.CPUModel = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		// "MemTotal:       16318480 kB"
		if f := strings.Fields(procField(b, "MemTotal")); len(f) > 0 {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				p.MemoryBytes = kb * 1024
			}
		}
	}
	return p
}

// procField is the value of the first "name: value" line of a /proc file.
func procField(b []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// RedactArgs is args with the value of every flag whose name contains
// "token" or "password" (case-insensitive) replaced by "REDACTED", in both
// the --flag=value and the --flag value forms.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !secretFlag(name) {
			continue
		}
		if hasValue {
			out[i] = a[:strings.IndexByte(a, '=')+1] + "REDACTED"
		} else if i+1 < len(out) && !strings.HasPrefix(out[i+1], "-") && !isBoolish(out[i+1]) {
			out[i+1] = "REDACTED"
			i++
		}
	}
	return out
}

func secretFlag(name string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "no-token") { // --insecure-no-token, a boolean
		return false
	}
	return strings.Contains(n, "token") || strings.Contains(n, "password")
}

// isBoolish: --insecure-no-token is a boolean flag; the next argument is
// not its value (a positional that happens to be "true" is left alone too).
func isBoolish(s string) bool { return s == "true" || s == "false" }

// rows are p as label/value pairs for report.md and report.html (none
// when p is nil: a report written before provenance was recorded).
func (p *Provenance) rows() [][2]string {
	if p == nil {
		return nil
	}
	rev := p.VCSRevision
	if rev == "" {
		rev = "unknown"
	}
	if p.VCSModified {
		rev += " (modified)"
	}
	if p.VCSTime != "" {
		rev += ", " + p.VCSTime
	}
	return [][2]string{
		{"countlab", p.Module + " " + p.Version},
		{"revision", rev},
		{"go", p.GoVersion + " " + p.OS + "/" + p.Arch},
		{"cpu", strconv.Itoa(p.CPUs) + " x " + p.CPUModel},
		{"memory", strconv.FormatFloat(float64(p.MemoryBytes)/(1<<30), 'f', 1, 64) + " GiB"},
		{"host", p.Hostname},
		{"command line", strings.Join(p.CommandLine, " ")},
	}
}

// provenanceMarkdown is report.md's provenance section.
func (r *Report) provenanceMarkdown(b *strings.Builder) {
	rows := r.Provenance.rows()
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n## Provenance\n\n| | |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row[0], strings.ReplaceAll(row[1], "|", "\\|"))
	}
}
