package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/scenarios"
)

// cmdScenarios lists the shipped scenarios, validates scenario files, or
// prints a shipped one.
func cmdScenarios(_ context.Context, args []string) error {
	return scenariosMain(args, os.Stdout, os.Stderr)
}

const scenariosUsage = `usage:
  countlab scenarios list [--json]     the shipped scenarios
  countlab scenarios validate FILE...  check scenario files (exit 2 on an error, naming the field and a fix)
  countlab scenarios show NAME         print a shipped scenario's YAML (a starting point for your own)

  list --json prints the scenarios as a JSON array.

example:
  countlab scenarios show quickstart > my.yaml && countlab scenarios validate my.yaml

environment:
  none`

func scenariosMain(args []string, out, errw io.Writer) error {
	if len(args) == 0 {
		return usagef("%s", scenariosUsage)
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(out, scenariosUsage)
		return flag.ErrHelp
	case "list":
		if len(args) == 2 && (args[1] == "--json" || args[1] == "-json") {
			return writeScenariosJSON(out) // scenariosjson.go
		}
		if len(args) > 1 {
			return usagef("list takes no arguments but --json (got %q; see 'countlab scenarios -h')", args[1])
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tDURATION\tRATE\tKEYS\tDESCRIPTION")
		for _, n := range scenarios.Names() {
			sc, err := scenarios.Lookup(n)
			if err != nil {
				return fmt.Errorf("shipped scenario %s is invalid: %w", n, err)
			}
			desc := sc.Description
			if len(desc) > 80 {
				desc = desc[:77] + "..."
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d %s\t%s\n", n, sc.Duration, run.RateText(sc), sc.Traffic.Keys.Count, sc.Traffic.Keys.Distribution, desc)
		}
		return tw.Flush()
	case "validate":
		if len(args) < 2 {
			return usagef("validate needs at least one FILE")
		}
		var bad []string
		for _, f := range args[1:] {
			if _, err := scenarios.Lookup(f); err != nil {
				fmt.Fprintf(errw, "%v\n", err)
				bad = append(bad, f)
				continue
			}
			fmt.Fprintf(out, "%s: ok\n", f)
		}
		if len(bad) > 0 {
			return usageError{Err: errors.New("invalid: " + strings.Join(bad, ", "))}
		}
		return nil
	case "show":
		if len(args) != 2 {
			return usagef("show needs one NAME (%s)", strings.Join(scenarios.Names(), ", "))
		}
		b, err := scenarios.Shipped(args[1])
		if err != nil {
			return usagef("no shipped scenario %q (%s)", args[1], strings.Join(scenarios.Names(), ", "))
		}
		_, err = out.Write(b)
		return err
	}
	return usagef("unknown subcommand %q\n%s", args[0], scenariosUsage)
}
