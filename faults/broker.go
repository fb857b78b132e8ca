package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestKeys are the request groups broker-errors targets, by name.
var requestKeys = map[string][]kmsg.Key{
	"produce":          {kmsg.Produce},
	"fetch":            {kmsg.Fetch},
	"txn":              {kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.EndTxn, kmsg.TxnOffsetCommit},
	"end-txn":          {kmsg.EndTxn},
	"init-producer-id": {kmsg.InitProducerID},
	"find-coordinator": {kmsg.FindCoordinator},
	"offset-commit":    {kmsg.OffsetCommit},
	"heartbeat":        {kmsg.Heartbeat},
	"metadata":         {kmsg.Metadata},
	"list-offsets":     {kmsg.ListOffsets},
}

func requestNames() []string {
	out := make([]string, 0, len(requestKeys))
	for k := range requestKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errorByName is the Kafka error named name (as in the protocol docs,
// e.g. NOT_LEADER_FOR_PARTITION).
func errorByName(name string) (*kerr.Error, error) {
	for code := int16(-1); code < 200; code++ {
		if e := kerr.TypedErrorForCode(code); e != nil && (e.Code == code || code == -1) && e.Message == name {
			return e, nil
		}
	}
	return nil, fmt.Errorf("param error: unknown Kafka error %q (e.g. NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, COORDINATOR_NOT_AVAILABLE, CONCURRENT_TRANSACTIONS)", name)
}

// brokerErrors makes the embedded broker answer matching requests with a
// Kafka error, through kfake's fault API.
type brokerErrors struct {
	keys        []kmsg.Key
	err         *kerr.Error
	probability float64

	mu   sync.Mutex
	h    *kfake.FaultHandle
	hits int // of handles removed
}

func buildBrokerErrors(p *params) (Fault, error) {
	reqs, err := p.strings("requests", []string{"produce"})
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("param requests: empty (one or more of: %s)", strings.Join(requestNames(), ", "))
	}
	f := &brokerErrors{}
	for _, r := range reqs {
		if err := oneOf("requests", r, requestNames()); err != nil {
			return nil, err
		}
		f.keys = append(f.keys, requestKeys[r]...)
	}
	name, err := p.string("error", kerr.NotLeaderForPartition.Message)
	if err != nil {
		return nil, err
	}
	if f.err, err = errorByName(name); err != nil {
		return nil, err
	}
	if f.probability, err = p.float("probability", 1); err != nil {
		return nil, err
	}
	if !(f.probability > 0 && f.probability <= 1) {
		return nil, fmt.Errorf("param probability: must be in (0, 1] (got %v)", f.probability)
	}
	return f, nil
}

func (f *brokerErrors) Inject(_ context.Context, t Target) error {
	c := t.KafkaCluster()
	if c == nil {
		return fmt.Errorf("broker-errors needs the embedded broker: %w", ErrUnsupported)
	}
	var when func(kmsg.Request) bool
	if f.probability < 1 {
		when = func(kmsg.Request) bool { return rand.Float64() < f.probability }
	}
	// Two faults per request: one on the request's top-level error code
	// (EndTxn, InitProducerID, ...), one on its entities (the partitions
	// of a Produce, ...); a request without a top-level code skips the
	// first.
	h := c.Fault(
		kfake.Fault{Keys: f.keys, Err: f.err, Count: -1, When: when, TopLevel: true},
		kfake.Fault{Keys: f.keys, Err: f.err, Count: -1, When: when},
	)
	f.mu.Lock()
	f.h = h
	f.mu.Unlock()
	return nil
}

func (f *brokerErrors) Heal(context.Context, Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h != nil {
		f.h.Remove()
		f.hits += f.h.Hits()
		f.h = nil
	}
	return nil
}

// Hits is the number of requests answered with the error so far.
func (f *brokerErrors) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return f.hits
	}
	return f.hits + f.h.Hits()
}
