package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack"
)

// The attribute roll-up's flags (engine/enrich): the stack's --enrich
// (countlab up, run) and `countlab engine --enrich --enrich-store`.

func (f *stackFlags) registerEnrich(fs *flag.FlagSet) {
	fs.StringVar(&f.enrich, "enrich", "", "roll the counts up by these key attributes, comma-separated (e.g. channel): metadata from POST /v1/metadata, views per channel on GET /v1/attr/... (a scenario's enrichment section sets it)")
}

// enrichOptions is the stack option of --enrich, when given.
func (f *stackFlags) enrichOptions() []stack.Opt {
	if f.enrich == "" {
		return nil
	}
	return []stack.Opt{stack.Enrich(strings.Split(f.enrich, ",")...)}
}

// engineEnrichFlags are `countlab engine`'s roll-up flags.
type engineEnrichFlags struct{ attrs, store *string }

func registerEngineEnrich(fs *flag.FlagSet) engineEnrichFlags {
	return engineEnrichFlags{
		attrs: fs.String("enrich", "", "roll the counts up by these key attributes, comma-separated (e.g. channel), from the <prefix>metadata topic (engine/enrich)"),
		store: fs.String("enrich-store", "", "the worker's metadata store file (bbolt; rebuilt from the topic when missing; default: a file in the temp dir named after --txn-id)"),
	}
}

// opts starts the worker's metadata follower (until ctx is done) and
// returns the aggregate option.
func (e engineEnrichFlags) opts(ctx context.Context, conn kafka.Conn, prefix, txnID string, reg prometheus.Registerer, log *slog.Logger) ([]aggregate.Opt, error) {
	if *e.attrs == "" {
		return nil, nil
	}
	names, err := enrich.ParseAttrNames(*e.attrs)
	if err != nil {
		return nil, usagef("--enrich: %v", err)
	}
	store := *e.store
	if store == "" {
		store = filepath.Join(os.TempDir(), "countlab-enrich-"+txnID+".db")
	}
	fol, err := enrich.NewFollower(enrich.FollowConn(conn), enrich.FollowTopic(prefix+enrich.DefaultTopic),
		enrich.StorePath(store), enrich.FollowLogger(log), enrich.FollowRegisterer(reg))
	if err != nil {
		return nil, err
	}
	go func() {
		if err := fol.Run(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "countlab engine: metadata follower stopped:", err)
			os.Exit(1)
		}
	}()
	return []aggregate.Opt{aggregate.Enrich(fol, prefix+enrich.DefaultTotalsTopic, names...)}, nil
}
