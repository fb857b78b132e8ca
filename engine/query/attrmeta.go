package query

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
)

// MetadataTopic makes the server read the entity metadata topic
// (engine/enrich) so top-N answers carry each key's current attributes
// (its version with the latest effective time not after now). Default:
// not read, no attributes in answers.
func MetadataTopic(name string) Opt { return opt(func(c *cfg) { c.metadataTopic = name }) }

// current holds every entity's versions, for top-N answers.
type current struct {
	mu sync.RWMutex
	by map[string][]enrich.Record // sorted by TS
}

// attrs returns entity's attributes as of now (nil when unknown).
func (c *current) attrs(entity string, now int64) []enrich.Attr {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.by[entity]
	i, _ := slices.BinarySearchFunc(vs, now+1, func(r enrich.Record, t int64) int { return int(min(max(r.TS-t, -1), 1)) })
	if i == 0 {
		return nil
	}
	return vs[i-1].Attrs
}

func (c *current) add(r enrich.Record, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := c.by[r.Entity]
	i, found := slices.BinarySearchFunc(vs, r.TS, func(v enrich.Record, t int64) int { return int(min(max(v.TS-t, -1), 1)) })
	if found {
		vs[i] = r
	} else {
		vs = slices.Insert(vs, i, r)
	}
	// Versions before the current one are never asked for again.
	j, _ := slices.BinarySearchFunc(vs, now+1, func(v enrich.Record, t int64) int { return int(min(max(v.TS-t, -1), 1)) })
	if j > 1 {
		vs = slices.Delete(vs, 0, j-1)
	}
	c.by[r.Entity] = vs
}

// runMetadata reads the metadata topic into s.meta until ctx is done.
func (s *Server) runMetadata(ctx context.Context) {
	opts, err := s.cfg.conn.Opts()
	if err != nil {
		return
	}
	opts = append(opts, kgo.ConsumeTopics(s.cfg.metadataTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(250*time.Millisecond))
	cl, err := kgo.NewClient(append(opts, s.cfg.kafkaOpts...)...)
	if err != nil {
		s.cfg.logger.Warn("query: metadata topic not read", "err", err)
		return
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		now := s.cfg.now().UnixMilli()
		fs.EachRecord(func(r *kgo.Record) {
			parse := enrich.ParseRecord
			if r.Value == nil { // a tombstone: a deletion
				parse = func([]byte) (enrich.Record, error) { return enrich.DeletionOf(r.Key) }
			}
			if rec, err := parse(r.Value); err == nil {
				s.meta.add(rec, now)
			}
		})
	}
}

// appendAttrs appends `,"attrs":{...}` for as (nothing when nil).
func appendAttrs(b []byte, as []enrich.Attr) []byte {
	if as == nil {
		return b
	}
	b = append(b, `,"attrs":{`...)
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a.Name)
		b = append(b, ':')
		b = appendString(b, a.Value)
	}
	return append(b, '}')
}
