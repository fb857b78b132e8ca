package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// EntitiesConfig describes the entities of an enrichment run: every
// counted key is a video in one of Channels channels, videos spread over
// the channels by a Zipf law (channel 0 has the most), and metadata
// updates during the run.
type EntitiesConfig struct {
	// Keys are the entity ids (the counted keys).
	Keys []string
	// Channels is the number of channels (>= 1).
	Channels int
	// ZipfS is the exponent of the videos' spread over channels (> 0).
	ZipfS float64
	// LateShare of the videos get their first version during the run
	// (effective LateBackdate before it is sent); until then their
	// windows count under the unknown value.
	LateShare float64
	// LateBackdate is how far before its send time a late video's
	// version takes effect (>= 0; at most the allowed lateness).
	LateBackdate time.Duration
	// Moves videos move to another channel during the run, Renames get a
	// new title, Deletes are deleted (each effective when sent; a deleted
	// video is not changed again).
	Moves, Renames, Deletes int
	// Duration is the traffic's length: updates are sent within it.
	Duration time.Duration
	// Seed makes the plan.
	Seed uint64
}

// MetadataUpdate is one metadata record of the plan: sent At after the
// start, effective at start + Effective (negative: before the start).
// Attrs nil is a deletion (sent as {"entity":..,"ts":..,"deleted":true}).
type MetadataUpdate struct {
	At        time.Duration
	Effective time.Duration
	Entity    string
	Attrs     map[string]string
}

// PlanMetadata is the run's metadata updates, sorted by At: every video's
// first version (at the start, effective an hour before, or later for
// the late ones), then the moves, renames and deletions. Versions carry every
// attribute (channel, title): a version replaces the one before.
func PlanMetadata(c EntitiesConfig) ([]MetadataUpdate, error) {
	switch {
	case len(c.Keys) == 0 || c.Channels < 1 || c.ZipfS <= 0 || c.Duration <= 0:
		return nil, errors.New("sim: entities: want keys, channels >= 1, zipf_s > 0 and a duration")
	case c.LateShare < 0 || c.LateShare >= 1 || c.LateBackdate < 0:
		return nil, errors.New("sim: entities: late share must be in [0, 1) and the backdate >= 0")
	}
	z, err := NewZipf(c.Channels, c.ZipfS)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x656e72696368))
	cur := make(map[string]map[string]string, len(c.Keys))
	var out, onTime []MetadataUpdate
	var settled []string
	for _, k := range c.Keys {
		attrs := map[string]string{"channel": "ch" + strconv.FormatUint(z.Next(rng, 0), 10), "title": "title of " + k}
		cur[k] = attrs
		if rng.Float64() < c.LateShare {
			at := time.Duration(float64(c.Duration) * (0.2 + 0.4*rng.Float64())).Truncate(time.Millisecond)
			out = append(out, MetadataUpdate{At: at, Effective: at - c.LateBackdate, Entity: k, Attrs: attrs})
			continue
		}
		settled = append(settled, k)
		onTime = append(onTime, MetadataUpdate{At: 0, Effective: -time.Hour, Entity: k, Attrs: attrs})
	}
	change := func(n int, mutate func(k string, a map[string]string)) {
		for range n {
			if len(settled) == 0 {
				return
			}
			k := settled[rng.IntN(len(settled))]
			a := map[string]string{}
			for n, v := range cur[k] {
				a[n] = v
			}
			mutate(k, a)
			cur[k] = a
			at := time.Duration(float64(c.Duration) * (0.1 + 0.8*rng.Float64())).Truncate(time.Millisecond)
			out = append(out, MetadataUpdate{At: at, Effective: at, Entity: k, Attrs: a})
		}
	}
	change(c.Moves, func(_ string, a map[string]string) {
		a["channel"] = "ch" + strconv.Itoa(rng.IntN(c.Channels))
	})
	change(c.Renames, func(k string, a map[string]string) { a["title"] = "renamed " + k + " " + strconv.Itoa(rng.IntN(1000)) })
	// Deletions come last in the plan's time of their video: nothing
	// changes it after its deletion.
	last := map[string]time.Duration{}
	for _, u := range out {
		last[u.Entity] = max(last[u.Entity], u.At)
	}
	for range c.Deletes {
		if len(settled) == 0 {
			break
		}
		i := rng.IntN(len(settled))
		k := settled[i]
		settled = slices.Delete(settled, i, i+1)
		at := max(time.Duration(float64(c.Duration)*(0.5+0.4*rng.Float64())).Truncate(time.Millisecond), last[k]+time.Millisecond)
		out = append(out, MetadataUpdate{At: at, Effective: at, Entity: k})
	}
	// Two changes of one video at the same millisecond would be one
	// version: keep the later in the plan.
	slices.SortStableFunc(out, func(a, b MetadataUpdate) int { return int(a.At - b.At) })
	return append(onTime, dedupVersions(out)...), nil
}

func dedupVersions(us []MetadataUpdate) []MetadataUpdate {
	type k struct {
		e  string
		at time.Duration
	}
	last := map[k]int{}
	for i, u := range us {
		last[k{u.Entity, u.Effective}] = i
	}
	out := us[:0]
	for i, u := range us {
		if last[k{u.Entity, u.Effective}] == i {
			out = append(out, u)
		}
	}
	return out
}

// MetadataSender posts a plan to the gateway's POST /v1/metadata at its
// times (updates due together in one request), re-sending on 429 and 5xx,
// and reports each acknowledged update (200) to Acked, with its effective
// time in unix ms.
type MetadataSender struct {
	// URL is the gateway's base URL (http://host:port).
	URL string
	// Token is the bearer token ("" for none).
	Token string
	// Client is the HTTP client (default http.DefaultClient).
	Client *http.Client
	// Acked is told of every acknowledged update.
	Acked func(u MetadataUpdate, effectiveMS int64)
}

// Run sends plan relative to start until done or ctx ends; it returns the
// first error that is not retryable (a 4xx other than 429).
func (s *MetadataSender) Run(ctx context.Context, start time.Time, plan []MetadataUpdate) error {
	for i := 0; i < len(plan); {
		j := i
		for j < len(plan) && plan[j].At == plan[i].At && j-i < 1000 {
			j++
		}
		if d := time.Until(start.Add(plan[i].At)); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		if err := s.post(ctx, start, plan[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (s *MetadataSender) post(ctx context.Context, start time.Time, us []MetadataUpdate) error {
	type rec struct {
		Entity  string            `json:"entity"`
		TS      int64             `json:"ts"`
		Attrs   map[string]string `json:"attrs,omitempty"`
		Deleted bool              `json:"deleted,omitempty"`
	}
	recs := make([]rec, len(us))
	for i, u := range us {
		recs[i] = rec{u.Entity, start.Add(u.Effective).UnixMilli(), u.Attrs, u.Attrs == nil}
	}
	body, _ := json.Marshal(recs)
	cl := s.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/metadata", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if s.Token != "" {
			req.Header.Set("Authorization", "Bearer "+s.Token)
		}
		resp, err := cl.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				for i, u := range us {
					if s.Acked != nil {
						s.Acked(u, recs[i].TS)
					}
				}
				return nil
			case resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500:
				return fmt.Errorf("sim: POST /v1/metadata: %s: %s", resp.Status, bytes.TrimSpace(msg))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(2*time.Second, 50*time.Millisecond<<min(attempt, 5))):
		}
	}
}
