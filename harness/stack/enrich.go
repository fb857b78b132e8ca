package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/harness"
)

// The attribute roll-up (engine/enrich) in the stack: the metadata and
// attribute totals topics, one metadata follower (a bbolt store in the
// data dir) per engine worker, the attribute sink, the gateway's
// POST /v1/metadata and the query service's attributes.

// Enrich rolls the counts up by these key attributes (e.g. "channel"):
// views per channel (default: none).
func Enrich(attrs ...string) Opt { return func(c *cfg) { c.enrichAttrs = attrs } }

// metadataTopic and attrTotalsTopic are the run's metadata and attribute
// totals topics (the prefix and engine/enrich's names).
func (c *cfg) metadataTopic() string   { return c.topicPrefix + enrich.DefaultTopic }
func (c *cfg) attrTotalsTopic() string { return c.topicPrefix + enrich.DefaultTotalsTopic }

func (c *cfg) validateEnrich() error {
	for _, a := range c.enrichAttrs {
		if _, err := enrich.ParseAttrNames(a); err != nil || a == "" {
			return harness.Configf("stack: enrich: attribute %q: want [a-z][a-z0-9_]*", a)
		}
	}
	return nil
}

// ensureEnrich creates the topics and the stores' directory.
func (s *Stack) ensureEnrich(ctx context.Context, dataDir string) error {
	c := &s.cfg
	if len(c.enrichAttrs) == 0 {
		return nil
	}
	if err := c.validateEnrich(); err != nil {
		return err
	}
	c.enrichDir = filepath.Join(dataDir, "enrich")
	if err := os.MkdirAll(c.enrichDir, 0o700); err != nil {
		return err
	}
	cl, err := s.conn.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	n := int32(c.partitions)
	return enrich.EnsureTopics(ctx, cl, c.metadataTopic(), c.attrTotalsTopic(), n, n)
}

func (s *Stack) enrichStore(slot int) string {
	return filepath.Join(s.cfg.enrichDir, "engine-"+strconv.Itoa(slot)+".db")
}

// enrichOpts are in-process worker slot's options: its follower runs
// until the stack closes.
func (s *Stack) enrichOpts(slot int) ([]aggregate.Opt, error) {
	c := &s.cfg
	if len(c.enrichAttrs) == 0 {
		return nil, nil
	}
	fol, err := enrich.NewFollower(enrich.FollowConn(s.net.engineConn(s.conn)), enrich.FollowTopic(c.metadataTopic()),
		enrich.StorePath(s.enrichStore(slot)), enrich.FollowLogger(s.log.With("part", "engine", "worker", slot)))
	if err != nil {
		return nil, err
	}
	s.goRun("engine", func(ctx context.Context) error {
		defer fol.Close()
		return fol.Run(ctx)
	}, s.runCtx)
	return []aggregate.Opt{aggregate.Enrich(fol, c.attrTotalsTopic(), c.enrichAttrs...)}, nil
}

// enrichArgs are worker process slot's `countlab engine` flags.
func (s *Stack) enrichArgs(slot int) []string {
	if len(s.cfg.enrichAttrs) == 0 {
		return nil
	}
	return []string{"--enrich", strings.Join(s.cfg.enrichAttrs, ","), "--enrich-store", s.enrichStore(slot)}
}

// startEnrichSink starts the attribute totals' sink into ic.
func (s *Stack) startEnrichSink(ic influx.Config) error {
	c := &s.cfg
	if len(c.enrichAttrs) == 0 {
		return nil
	}
	sk, err := enrich.NewSink(enrich.SinkConn(s.conn), enrich.SinkTopic(c.attrTotalsTopic()),
		enrich.SinkGroup(c.topicPrefix+"countlab-attr-sink"), enrich.SinkInflux(ic), enrich.SinkLogger(s.log.With("part", "attr-sink")))
	if err != nil {
		return fmt.Errorf("attribute sink: %w", err)
	}
	s.goRun("sink", func(ctx context.Context) error {
		defer sk.Close()
		return sk.Run(ctx)
	}, s.runCtx)
	return nil
}

// enrichQueryOpts: top-N answers carry the keys' attributes.
func (s *Stack) enrichQueryOpts() []query.Opt {
	if len(s.cfg.enrichAttrs) == 0 {
		return nil
	}
	return []query.Opt{query.MetadataTopic(s.cfg.metadataTopic())}
}

// enrichGatewayOpts: POST /v1/metadata writes the run's metadata topic.
func (s *Stack) enrichGatewayOpts() []gateway.Opt {
	return []gateway.Opt{gateway.MetadataTopic(s.cfg.metadataTopic())}
}

// EnrichAttrs are the attributes rolled up (nil: none).
func (s *Stack) EnrichAttrs() []string { return s.cfg.enrichAttrs }

// ReconcileEnrich is what a reconcile needs to repair the attribute
// roll-ups too: the metadata and attribute totals topics and the
// attributes (nil without enrichment).
func (s *Stack) ReconcileEnrich() *reconcile.Enrich {
	c := &s.cfg
	if len(c.enrichAttrs) == 0 {
		return nil
	}
	return &reconcile.Enrich{MetadataTopic: c.metadataTopic(),
		TotalsTopic: c.attrTotalsTopic(), Attrs: c.enrichAttrs}
}
