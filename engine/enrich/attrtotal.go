package enrich

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// AttrTotal is one attribute roll-up total: the events of one window
// whose keys had attribute Attr = Value (Unknown: no version in effect) at
// their event time, counted from one events partition (Sub; readers sum
// over it). It is written once, when the window closes, as an absolute
// value: writing it again is idempotent.
type AttrTotal struct {
	// Attr is the attribute name ("channel").
	Attr string `json:"attr"`
	// Value is the attribute value ("c7"), or Unknown.
	Value string `json:"value"`
	// Type is the event type.
	Type string `json:"type"`
	// Sub is the events partition the keys were counted on.
	Sub int `json:"sub"`
	// Start is the window start, unix ms; Size its length in ms.
	Start int64 `json:"start"`
	Size  int64 `json:"size"`
	// Count, Sum, Min and Max merge the keys' totals (Min and Max are
	// meaningless when Count is 0).
	Count int64   `json:"count"`
	Sum   float64 `json:"sum"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	// Keys is the number of key totals (keys x dimension sets) with
	// events under Value (a key window split between values counts in
	// each).
	Keys int `json:"keys"`
}

// Merge folds one key total (count, sum, min, max) into t.
func (t *AttrTotal) Merge(count int64, sum, lo, hi float64) {
	if count == 0 {
		return
	}
	if t.Count == 0 {
		t.Min, t.Max = lo, hi
	} else {
		t.Min, t.Max = math.Min(t.Min, lo), math.Max(t.Max, hi)
	}
	t.Count += count
	t.Sum += sum
	t.Keys++
}

// RecordKey is the Kafka record key on the totals topic, unique per total.
func (t *AttrTotal) RecordKey() []byte {
	return []byte(t.Attr + "|" + t.Value + "|" + t.Type + "|" + strconv.FormatInt(t.Size, 10) + "|" +
		strconv.Itoa(t.Sub) + "|" + strconv.FormatInt(t.Start, 10))
}

// UnmarshalAttrTotal decodes a totals record value.
func UnmarshalAttrTotal(b []byte) (AttrTotal, error) {
	var t AttrTotal
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("enrich: attribute total: %w", err)
	}
	if t.Attr == "" || t.Value == "" || t.Type == "" || t.Size <= 0 {
		return t, fmt.Errorf("enrich: attribute total: missing attr, value, type or size in %q", b)
	}
	return t, nil
}

// InfluxDB schema of attribute totals: measurement Measurement, tags
// attr, value, type, win (the window size as "60s"), sub (absent when 0),
// fields count (integer), sum, min, max, keys (integer), timestamp the
// window start. Same tags and time: overwritten, so idempotent.
const (
	Measurement = "attr_total"
	TagAttr     = "attr"
	TagValue    = "value"
	TagType     = "type"
	TagWindow   = "win"
	TagSub      = "sub"
)

// SizeName is a window size as the win tag names it (whole seconds).
func SizeName(ms int64) string { return strconv.FormatInt(ms/1000, 10) + "s" }

// Point is t as its InfluxDB point.
func (t *AttrTotal) Point() *write.Point {
	p := write.NewPointWithMeasurement(Measurement).
		AddTag(TagAttr, t.Attr).AddTag(TagValue, t.Value).AddTag(TagType, t.Type).
		AddTag(TagWindow, SizeName(t.Size))
	if t.Sub != 0 {
		p.AddTag(TagSub, strconv.Itoa(t.Sub))
	}
	return p.AddField("count", t.Count).AddField("sum", t.Sum).AddField("min", t.Min).
		AddField("max", t.Max).AddField("keys", int64(t.Keys)).SetTime(time.UnixMilli(t.Start))
}

// ParseAttrNames parses "channel,category" into attribute names.
func ParseAttrNames(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, n := range strings.Split(s, ",") {
		if !nameOK(n) {
			return nil, fmt.Errorf("enrich: attribute name %q: want [a-z][a-z0-9_]* up to %d bytes", n, MaxNameBytes)
		}
		out = append(out, n)
	}
	return out, nil
}
