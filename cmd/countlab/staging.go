package main

// Chaos against staging: the run flags that say which external targets
// faults may act on (--allow-chaos), that clean up the run's topics on an
// external cluster (--delete-topics), and that pick the random fault
// schedule (--fault-seed).
//
// The staging rule: a Kafka cluster given with --brokers and an InfluxDB
// given with --influx-url are external targets, whatever their address
// (loopback included: countlab cannot tell a tunnel to production from a
// server of its own). A fault that needs control over an external target
// (broker-errors and broker-crash over the cluster, sink-outage over the
// InfluxDB) is refused before the run starts unless that target is opted
// in with --allow-chaos broker and/or influx. Faults on what the run
// itself starts (engine workers, the gateway's traffic: worker-*,
// overload, clock-skew, late-burst; the network kinds, which act on the
// run's own proxies) need no opt-in. With --brokers, the run's topics get
// the prefix countlab-<run id>- unless --topic-prefix is given.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/countlab/countlab/scenarios"
)

// chaosTargets are the external targets --allow-chaos names, and the
// fault kinds that need control over each.
var chaosTargets = map[string][]string{
	"broker": {"broker-errors", "broker-crash"},
	"influx": {"sink-outage"},
}

// chaosFlags are run's chaos flags.
type chaosFlags struct {
	allowChaos   string
	deleteTopics bool
	faultSeed    uint64
	faultSeedSet bool
	// prefix is the run's topic prefix once applyStaging ran ("" with
	// the embedded broker and no --topic-prefix).
	prefix string
}

func (c *chaosFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.allowChaos, "allow-chaos", "", "opt external targets (--brokers, --influx-url; loopback addresses too) in to the faults that need control over them: broker, influx, comma-separated")
	fs.BoolVar(&c.deleteTopics, "delete-topics", false, "at the end, delete every topic whose name begins with the run's topic prefix (needs --brokers)")
	fs.Func("fault-seed", "override the seed of the scenario's random_faults (the schedule it draws)", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number >= 0", s)
		}
		c.faultSeed, c.faultSeedSet = n, true
		return nil
	})
}

// prepare applies --fault-seed and draws the scenario's random faults
// into its fault list: after any change to the duration or the workers,
// before Validate.
func (c *chaosFlags) prepare(sc *scenarios.Scenario) error {
	if c.faultSeedSet {
		if sc.RandomFaults == nil {
			return usagef("--fault-seed: scenario %s has no random_faults to draw", sc.Name)
		}
		sc.RandomFaults.Seed = c.faultSeed
	}
	if err := sc.ExpandRandomFaults(); err != nil {
		return usageError{err}
	}
	return nil
}

// applyStaging refuses faults on external targets that were not opted in
// and gives the run's topics their own prefix on an external cluster.
func (c *chaosFlags) applyStaging(sf *stackFlags, fs *flag.FlagSet, sc *scenarios.Scenario) error {
	allowed := map[string]bool{}
	for _, t := range strings.FieldsFunc(c.allowChaos, listSep) {
		if _, ok := chaosTargets[t]; !ok {
			return usagef("--allow-chaos: unknown target %q (broker, influx)", t)
		}
		allowed[t] = true
	}
	external := map[string]string{}
	if sf.brokers != "" {
		external["broker"] = "the Kafka cluster at " + sf.brokers + " (--brokers)"
	}
	if sf.influxURL != "" {
		external["influx"] = "the InfluxDB at " + sf.influxURL + " (--influx-url)"
	}
	for _, f := range sc.Faults {
		for target, kinds := range chaosTargets {
			what, ext := external[target]
			if !ext || allowed[target] || !slices.Contains(kinds, f.Kind) {
				continue
			}
			name := f.Name
			if name == "" {
				name = f.Kind
			}
			return usagef("fault %s (%s) needs control over %s, an external target: refused; opt it in with --allow-chaos %s if faults may act on it (every --brokers/--influx-url target is external, loopback included)",
				name, f.Kind, what, target)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if sf.brokers != "" && !set["topic-prefix"] {
		sf.topicPrefix = "countlab-" + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-"
	}
	c.prefix = sf.topicPrefix
	if c.deleteTopics {
		if sf.brokers == "" {
			return usagef("--delete-topics deletes the run's topics on an external cluster: give --brokers (the embedded broker's topics go with its data)")
		}
		if c.prefix == "" {
			return usagef("--delete-topics deletes every topic beginning with the run's topic prefix: give a non-empty --topic-prefix (or leave it out for countlab-<run id>-)")
		}
	}
	return nil
}

// cleanup deletes the run's topics when --delete-topics asks: every topic
// on the cluster whose name begins with the run's prefix.
func (c *chaosFlags) cleanup(ctx context.Context, sf *stackFlags, out io.Writer) error {
	if !c.deleteTopics || c.prefix == "" || sf.brokers == "" {
		return nil
	}
	conn, err := sf.externalConn() // stacksecure.go
	if err != nil {
		return err
	}
	cl, err := conn.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("--delete-topics: list topics: %w", err)
	}
	var names []string
	for _, t := range td.Names() {
		if strings.HasPrefix(t, c.prefix) {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	res, err := adm.DeleteTopics(ctx, names...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("--delete-topics: %w", err)
	}
	fmt.Fprintf(out, "  deleted the run's topics: %s\n", strings.Join(names, ", "))
	return nil
}
