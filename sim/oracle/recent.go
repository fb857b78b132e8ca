package oracle

// The windows a key's events last went to, kept by key so that counting
// an event usually finds its window without a lookup in the map of every
// window (Oracle.windows): at tens of thousands of windows that lookup
// misses the CPU caches, twice (the map's control word, then the key),
// for every window size of every event, while a key's few recent windows
// sit together in one or two cache lines.
//
// The cache holds pointers into windows and is only ever a copy of it:
// a window is put in after it is found or made in the map. A window is
// only ever deleted from the map by TakeFinal, which then bumps
// recentGen; a key's cache from an older generation is emptied when next
// used. So a cached window is always the map's own. (An on-time event
// never reaches a taken window anyway, takenSize; the generation makes
// sure the cache neither hands out nor keeps alive a window the map no
// longer has.)

// recentPerKey is how many windows a key's cache holds (types x sizes x
// the starts being written at once, for most traffic).
const recentPerKey = 4

// recentWins is one key's cache: up to recentPerKey windows, replaced
// round robin.
type recentWins struct {
	gen  uint32
	n    uint8 // entries held
	next uint8 // the entry replaced next when full
	wins [recentPerKey]recentWin
}

type recentWin struct {
	k wkey
	t *Total
}

// window is the total of window k, made (zero) if it is new (o.mu held).
func (o *Oracle) window(k wkey) *Total {
	for int(k.key) >= len(o.recent) {
		o.recent = append(o.recent, recentWins{gen: o.recentGen})
	}
	r := &o.recent[k.key]
	if r.gen != o.recentGen {
		*r = recentWins{gen: o.recentGen}
	}
	for i := range r.n {
		if r.wins[i].k == k {
			return r.wins[i].t
		}
	}
	t := o.windows[k]
	if t == nil {
		t = &Total{}
		o.windows[k] = t
	}
	if r.n < recentPerKey {
		r.wins[r.n] = recentWin{k, t}
		r.n++
	} else {
		r.wins[r.next] = recentWin{k, t}
		r.next = (r.next + 1) % recentPerKey
	}
	return t
}

// forgetRecent empties every key's cache (o.mu held): windows were
// deleted.
func (o *Oracle) forgetRecent() { o.recentGen++ }
