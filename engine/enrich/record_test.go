package enrich

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord([]byte(`{"entity":"v1","ts":"2026-12-01T12:00:00Z","attrs":{"title":"A","channel":"c7"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Entity != "v1" || r.TS != 1796126400000 || len(r.Attrs) != 2 || r.Attrs[0].Name != "channel" || r.Get("channel") != "c7" || r.Get("x") != Unknown {
		t.Fatalf("%+v", r)
	}
	if string(r.RecordKey()) != "v1@1796126400000" {
		t.Fatalf("key %s", r.RecordKey())
	}
	b, _ := r.MarshalJSON()
	r2, err := ParseRecord(b)
	if err != nil || r2.TS != r.TS || r2.Get("title") != "A" {
		t.Fatalf("round trip %s: %+v %v", b, r2, err)
	}
	rs, err := ParseRecords([]byte(` [{"entity":"a","ts":5,"attrs":{"c":"x"}},{"entity":"b","ts":6,"attrs":{"c":"y"}}]`))
	if err != nil || len(rs) != 2 || rs[1].Entity != "b" {
		t.Fatalf("%+v %v", rs, err)
	}
}

func TestParseRecordRefuses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"ts":1,"attrs":{"c":"x"}}`, "entity: missing"},
		{`{"entity":"","ts":1,"attrs":{"c":"x"}}`, "entity: empty"},
		{`{"entity":"a@b","ts":1,"attrs":{"c":"x"}}`, "'@'"},
		{`{"entity":"a","attrs":{"c":"x"}}`, "ts: missing"},
		{`{"entity":"a","ts":-1,"attrs":{"c":"x"}}`, "positive whole number"},
		{`{"entity":"a","ts":"yesterday","attrs":{"c":"x"}}`, "not RFC 3339"},
		{`{"entity":"a","ts":1}`, "attrs: missing"},
		{`{"entity":"a","ts":1,"attrs":{"Channel":"x"}}`, "name \"Channel\""},
		{`{"entity":"a","ts":1,"attrs":{"c":"(unknown)"}}`, "reserved"},
		{`{"entity":"a","ts":1,"attrs":{"c":"x\u0001"}}`, "control character"},
		{`{"entity":"a","ts":1,"attrs":{"c":"x"},"extra":1}`, "unknown field"},
		{`{"entity":"a","ts":1,"attrs":{"c":"x"}} {}`, "trailing data"},
		{`[{"entity":"a","ts":1,"attrs":{"c":"x"}},{"entity":"a"}]`, "record 1"},
	} {
		_, err := ParseRecords([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrRecord) {
			t.Errorf("%s: got %v, want %q", c.in, err, c.want)
		}
	}
}

func TestDeletion(t *testing.T) {
	r, err := ParseRecord([]byte(`{"entity":"v1","ts":5,"deleted":true}`))
	if err != nil || !r.Deleted() || r.Entity != "v1" || r.TS != 5 || r.Get("channel") != Unknown {
		t.Fatalf("%+v %v", r, err)
	}
	b, _ := r.MarshalJSON()
	if string(b) != `{"entity":"v1","ts":5,"deleted":true}` {
		t.Fatalf("marshal %s", b)
	}
	if _, err := ParseRecord([]byte(`{"entity":"v1","ts":5,"deleted":true,"attrs":{"c":"x"}}`)); err == nil || !strings.Contains(err.Error(), "no attributes") {
		t.Fatalf("a deletion with attributes: %v", err)
	}
	if _, err := ParseRecord([]byte(`{"entity":"v1","ts":5,"deleted":false}`)); err == nil || !strings.Contains(err.Error(), "attrs: missing") {
		t.Fatalf("deleted false without attributes: %v", err)
	}
	// A null value (Kafka tombstone) under ENTITY@EFFECTIVE_MS.
	d, err := DeletionOf([]byte("v1@1796126400000"))
	if err != nil || !d.Deleted() || d.Entity != "v1" || d.TS != 1796126400000 || string(d.RecordKey()) != "v1@1796126400000" {
		t.Fatalf("%+v %v", d, err)
	}
	for _, k := range []string{"v1", "v1@", "v1@x", "@5", "v1@-3"} {
		if _, err := DeletionOf([]byte(k)); err == nil || !errors.Is(err, ErrRecord) {
			t.Errorf("tombstone key %q: %v", k, err)
		}
	}
}
