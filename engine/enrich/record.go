package enrich

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a metadata record.
const (
	MaxEntityBytes = 256
	MaxAttrs       = 32
	MaxNameBytes   = 64
	MaxValueBytes  = 256
	// Unknown is the attribute value of a key with no version in effect
	// (or whose version lacks the attribute). Records may not use it.
	Unknown = "(unknown)"
)

// Record is one metadata record: the attributes of Entity from TS on.
// A deletion (a tombstone) is a record without attributes: from TS on
// the entity has no version (its events count under Unknown) until a
// later version.
type Record struct {
	// Entity is the counted key the attributes describe (a video id).
	Entity string
	// TS is the effective time, unix milliseconds.
	TS int64
	// Attrs are the attributes, sorted by name, names unique; none for a
	// deletion.
	Attrs []Attr
}

// Deleted says r is a deletion (no attributes).
func (r *Record) Deleted() bool { return len(r.Attrs) == 0 }

// DeletionOf is the deletion record of a null value (a Kafka tombstone)
// under record key "ENTITY@EFFECTIVE_MS".
func DeletionOf(key []byte) (Record, error) {
	k := string(key)
	i := strings.LastIndexByte(k, '@')
	if i < 0 {
		return Record{}, bad("tombstone key %q: want ENTITY@EFFECTIVE_MS", k)
	}
	r := Record{Entity: k[:i]}
	if err := text("entity", r.Entity, MaxEntityBytes); err != nil {
		return Record{}, err
	}
	ts, err := strconv.ParseInt(k[i+1:], 10, 64)
	if err != nil || ts <= 0 {
		return Record{}, bad("tombstone key %q: the effective time is not a positive whole number of unix milliseconds", k)
	}
	r.TS = ts
	return r, nil
}

// Attr is one attribute: a name and its value.
type Attr struct {
	Name, Value string
}

// Get returns the value of attribute name, or Unknown.
func (r *Record) Get(name string) string {
	for _, a := range r.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return Unknown
}

// RecordKey is the Kafka record key of r on the metadata topic:
// "ENTITY@EFFECTIVE_MS".
func (r *Record) RecordKey() []byte {
	return strconv.AppendInt(append([]byte(r.Entity), '@'), r.TS, 10)
}

// wire is the JSON form.
type wire struct {
	Entity *string           `json:"entity"`
	TS     json.RawMessage   `json:"ts"`
	Attrs  map[string]string `json:"attrs"`
	// Deleted marks a deletion: no attrs then.
	Deleted bool `json:"deleted"`
}

// ErrRecord is wrapped by every validation error of ParseRecord.
var ErrRecord = errors.New("metadata record")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRecord}, a...)...)
}

// ParseRecord decodes and validates one JSON metadata record:
//
//	{"entity":"v42","ts":"2026-12-01T12:00:00Z","attrs":{"channel":"c7","title":"..."}}
//
// or, a deletion (the entity has no version from ts on):
//
//	{"entity":"v42","ts":"2026-12-01T13:00:00Z","deleted":true}
//
// ts is RFC 3339 or unix milliseconds; entity 1..256 bytes; attrs 1..32,
// names [a-z][a-z0-9_]* up to 64 bytes, values up to 256 bytes; all valid
// UTF-8 without control characters; no unknown fields; no value Unknown.
func ParseRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return Record{}, bad("%v", err)
	}
	if dec.More() {
		return Record{}, bad("trailing data after the record")
	}
	return w.record()
}

// ParseRecords decodes a JSON array of records, or one record.
func ParseRecords(b []byte) ([]Record, error) {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '[' {
		r, err := ParseRecord(b)
		if err != nil {
			return nil, err
		}
		return []Record{r}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, bad("%v", err)
	}
	out := make([]Record, 0, len(raws))
	for i, raw := range raws {
		r, err := ParseRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (w *wire) record() (Record, error) {
	if w.Entity == nil {
		return Record{}, bad("entity: missing")
	}
	r := Record{Entity: *w.Entity}
	if err := text("entity", r.Entity, MaxEntityBytes); err != nil {
		return Record{}, err
	}
	if strings.ContainsRune(r.Entity, '@') {
		return Record{}, bad("entity: %q contains '@' (the record key separator)", r.Entity)
	}
	ts, err := parseTS(w.TS)
	if err != nil {
		return Record{}, err
	}
	r.TS = ts
	if w.Deleted {
		if len(w.Attrs) != 0 {
			return Record{}, bad("attrs: a deletion (\"deleted\":true) has no attributes")
		}
		return r, nil
	}
	if len(w.Attrs) == 0 {
		return Record{}, bad("attrs: missing or empty (give at least one attribute)")
	}
	if len(w.Attrs) > MaxAttrs {
		return Record{}, bad("attrs: %d attributes, more than %d", len(w.Attrs), MaxAttrs)
	}
	for n, v := range w.Attrs {
		if !nameOK(n) {
			return Record{}, bad("attrs: name %q: want [a-z][a-z0-9_]* up to %d bytes", n, MaxNameBytes)
		}
		if err := text("attrs."+n, v, MaxValueBytes); err != nil {
			return Record{}, err
		}
		if v == Unknown {
			return Record{}, bad("attrs.%s: %q is reserved for keys without metadata", n, Unknown)
		}
		r.Attrs = append(r.Attrs, Attr{n, v})
	}
	slices.SortFunc(r.Attrs, func(a, b Attr) int { return strings.Compare(a.Name, b.Name) })
	return r, nil
}

func parseTS(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, bad("ts: missing (RFC 3339 or unix milliseconds)")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, bad("ts: %v", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, bad("ts: %q is not RFC 3339", s)
		}
		return t.UnixMilli(), nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n <= 0 {
		return 0, bad("ts: %s is not a positive whole number of unix milliseconds", raw)
	}
	return n, nil
}

func text(field, s string, maxBytes int) error {
	switch {
	case s == "":
		return bad("%s: empty", field)
	case len(s) > maxBytes:
		return bad("%s: %d bytes, more than %d", field, len(s), maxBytes)
	case !utf8.ValidString(s):
		return bad("%s: not valid UTF-8", field)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return bad("%s: control character %U", field, c)
		}
	}
	return nil
}

func nameOK(n string) bool {
	if n == "" || len(n) > MaxNameBytes || n[0] < 'a' || n[0] > 'z' {
		return false
	}
	for i := 1; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// MarshalJSON encodes r as ParseRecord reads it (ts in unix ms; a
// deletion with "deleted":true).
func (r Record) MarshalJSON() ([]byte, error) {
	if r.Deleted() {
		return json.Marshal(struct {
			Entity  string `json:"entity"`
			TS      int64  `json:"ts"`
			Deleted bool   `json:"deleted"`
		}{r.Entity, r.TS, true})
	}
	m := make(map[string]string, len(r.Attrs))
	for _, a := range r.Attrs {
		m[a.Name] = a.Value
	}
	return json.Marshal(struct {
		Entity string            `json:"entity"`
		TS     int64             `json:"ts"`
		Attrs  map[string]string `json:"attrs"`
	}{r.Entity, r.TS, m})
}
