package aggregate

import "time"

// minHotKeyEventsPerS is the partition load (events/s) below which no key
// is called hot, whatever its share: at trivial traffic one key easily has
// most of a partition's few events, and a "hot key" gauge or log line
// would be noise.
const minHotKeyEventsPerS = 100

// hotKeys are the partition's keys whose share of the last interval el is
// at least share (see spaceSaving.hot), none when the partition took fewer
// than minHotKeyEventsPerS; the sketch is reset either way.
func (p *partition) hotKeys(share float64, el time.Duration) []HotKey {
	sampled := p.hot.n // 1 event in 1<<defaultHotKeySampleLog is observed
	hot := p.hot.hot(p.id, share)
	if el <= 0 || float64(sampled<<defaultHotKeySampleLog)/el.Seconds() < minHotKeyEventsPerS {
		return nil
	}
	return hot
}
