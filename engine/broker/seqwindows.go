package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// seqWindows mirrors kfake's persistSeqWindows (version 1, entries format).
type seqWindows struct {
	Version int         `json:"version"`
	Windows []seqWindow `json:"windows"`
}

type seqWindow struct {
	PID     int64              `json:"pid"`
	Topic   string             `json:"topic"`
	Part    int32              `json:"partition"`
	Entries [windowSize]seqEnt `json:"entries,omitempty"`
	Count   uint8              `json:"count,omitempty"`
	At      uint8              `json:"at"`
	Epoch   int16              `json:"epoch"`
	Seen    bool               `json:"seen,omitempty"`
	NextSeq int32              `json:"next_seq,omitempty"`
}

type seqEnt struct {
	FirstSeq int32 `json:"first_seq"`
	NextSeq  int32 `json:"next_seq"`
	Offset   int64 `json:"offset"`
}

type windowKey struct {
	pid   int64
	topic string
	part  int32
}

// push applies one accepted batch the way kfake's pidwindow.pushAndValidate
// does.
func (w *seqWindow) push(epoch int16, firstSeq, numRecs int32, offset int64) {
	next := int32((int64(firstSeq) + int64(numRecs)) % math.MaxInt32)
	if !w.Seen || epoch != w.Epoch {
		w.Seen, w.Epoch, w.NextSeq = true, epoch, next
		w.Entries = [windowSize]seqEnt{{firstSeq, next, offset}}
		w.At, w.Count = 1, 1
		return
	}
	w.NextSeq = next
	w.Entries[w.At] = seqEnt{firstSeq, next, offset}
	w.At = (w.At + 1) % windowSize
	if w.Count < windowSize {
		w.Count++
	}
}

func (w *seqWindow) lastOffset() int64 {
	last := int64(-1)
	for _, e := range w.Entries[:w.Count] {
		last = max(last, e.Offset)
	}
	return last
}

// pushWindow applies one idempotent data batch to its producer's window.
func pushWindow(windows map[windowKey]*seqWindow, h batchHeader, topic string, part int32) {
	if h.firstSeq < 0 {
		return
	}
	k := windowKey{h.pid, topic, part}
	w := windows[k]
	if w == nil {
		w = &seqWindow{PID: h.pid, Topic: topic, Part: part}
		windows[k] = w
	}
	w.push(h.epoch, h.firstSeq, h.numRecs, h.baseOffset)
}

// writeSeqWindows merges the windows rebuilt from the log into
// seq_windows.json and returns how many it wrote.
func writeSeqWindows(dir string, rebuilt map[windowKey]*seqWindow) (int, error) {
	path := filepath.Join(dir, seqWindowsFile)
	var old seqWindows
	if raw, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(raw, &old); err != nil {
			return 0, fmt.Errorf("%s: %w", seqWindowsFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	out := seqWindows{Version: seqWindowsVer}
	for _, w := range old.Windows {
		k := windowKey{w.PID, w.Topic, w.Part}
		// A window saved at the last clean Close is newer than what the
		// log holds only if the log lost those batches (compaction or
		// retention): keep the saved one then.
		if r, ok := rebuilt[k]; ok && r.lastOffset() >= w.lastOffset() {
			continue
		}
		delete(rebuilt, k)
		out.Windows = append(out.Windows, w)
	}
	for _, w := range rebuilt {
		out.Windows = append(out.Windows, *w)
	}
	slices.SortFunc(out.Windows, func(a, b seqWindow) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if a.Part != b.Part {
			return int(a.Part - b.Part)
		}
		return int(a.PID - b.PID)
	})
	return len(out.Windows), writeFileAtomic(path, out)
}
