package enrich

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic names (a run prefix is prepended).
const (
	// DefaultTopic is the metadata topic: compacted, key
	// "ENTITY@EFFECTIVE_MS", value a JSON Record.
	DefaultTopic = "metadata"
	// DefaultTotalsTopic holds the attribute totals (AttrTotal JSON),
	// compacted, written by the aggregator in its transactions, one
	// partition per events partition.
	DefaultTotalsTopic = "attr-aggregates"
)

// EnsureTopics creates the metadata topic and the attribute totals topic
// when missing, both compacted; the totals topic gets partitions
// partitions (the events topic's count), the metadata topic
// metaPartitions.
func EnsureTopics(ctx context.Context, cl *kgo.Client, metadata, totals string, metaPartitions, partitions int32) error {
	adm := kadm.NewClient(cl)
	compacted := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, t := range []struct {
		name string
		n    int32
	}{{metadata, metaPartitions}, {totals, partitions}} {
		resp, err := adm.CreateTopic(ctx, t.n, -1, compacted, t.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("enrich: create topic %s: %w", t.name, err)
		}
	}
	return nil
}
