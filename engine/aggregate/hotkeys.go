package aggregate

import "slices"

// spaceSaving is the Space-Saving top-k sketch (Metwally et al.): k
// counters; an unseen key takes over the smallest counter and inherits its
// count as its error bound. Every key with a true count > N/k is in the
// sketch, and count - err <= true count <= count.
type spaceSaving struct {
	k     int
	n     int64
	items map[string]*ssItem
}

type ssItem struct {
	key        string
	count, err int64
}

func newSpaceSaving(k int) *spaceSaving {
	return &spaceSaving{k: k, items: make(map[string]*ssItem, k)}
}

func (s *spaceSaving) observe(key string) {
	s.n++
	if it := s.items[key]; it != nil {
		it.count++
		return
	}
	if len(s.items) < s.k {
		s.items[key] = &ssItem{key: key, count: 1}
		return
	}
	var min *ssItem
	for _, it := range s.items {
		if min == nil || it.count < min.count {
			min = it
		}
	}
	delete(s.items, min.key)
	min.key = key
	min.err = min.count
	min.count++
	s.items[key] = min
}

// HotKey is a key whose share of its partition's (sampled) load exceeded
// the hot-key threshold during the last report interval.
type HotKey struct {
	Partition int32
	Key       string
	// Share is the guaranteed lower bound of the key's share of the
	// partition's events, (count - err) / n.
	Share float64
}

// hot returns the keys whose guaranteed share is >= share, largest first,
// and resets the sketch.
func (s *spaceSaving) hot(partition int32, share float64) []HotKey {
	var out []HotKey
	if s.n > 0 {
		for _, it := range s.items {
			if f := float64(it.count-it.err) / float64(s.n); f >= share {
				out = append(out, HotKey{Partition: partition, Key: it.key, Share: f})
			}
		}
	}
	slices.SortFunc(out, func(a, b HotKey) int {
		switch {
		case a.Share > b.Share:
			return -1
		case a.Share < b.Share:
			return 1
		}
		return 0
	})
	clear(s.items)
	s.n = 0
	return out
}
