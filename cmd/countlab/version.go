package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/countlab/countlab/reports"
)

// provenance is this process's provenance (build, machine, command line
// with secrets redacted), as every report.json carries it.
func provenance() *reports.Provenance {
	p := reports.NewProvenance(os.Args)
	if p.Version == "" || p.Version == "(devel)" {
		if version != "dev" {
			p.Version = version
		}
	}
	return &p
}

// cmdVersion prints the version and provenance (--json: as JSON).
func cmdVersion(_ context.Context, args []string) error {
	fs := newFlagSet("version")
	asJSON := fs.Bool("json", false, "print the provenance as JSON (the provenance block of report.json)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return writeVersion(os.Stdout, provenance(), *asJSON)
}

func writeVersion(w io.Writer, p *reports.Provenance, asJSON bool) error {
	if asJSON {
		return printJSON(w, p)
	}
	rev := p.VCSRevision
	if rev == "" {
		rev = "unknown"
	}
	if p.VCSModified {
		rev += " (modified)"
	}
	fmt.Fprintf(w, "countlab %s\n  module    %s\n  revision  %s %s\n  go        %s %s/%s\n  cpu       %d x %s\n  memory    %.1f GiB\n  host      %s\n",
		p.Version, p.Module, rev, p.VCSTime, p.GoVersion, p.OS, p.Arch, p.CPUs, orUnknown(p.CPUModel), float64(p.MemoryBytes)/(1<<30), orUnknown(p.Hostname))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
