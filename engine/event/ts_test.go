package event

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseRFC3339(t *testing.T) {
	f := func(s string, ok bool) {
		t.Helper()
		got, gotOK := parseRFC3339([]byte(s))
		if gotOK != ok {
			t.Fatalf("parseRFC3339(%q) ok = %v, want %v", s, gotOK, ok)
		}
		if !ok {
			return
		}
		ref, err := time.Parse(time.RFC3339Nano, upperTZ(s))
		if err != nil {
			t.Fatalf("parseRFC3339(%q) accepts what time.Parse rejects: %v", s, err)
		}
		if got != ref.UnixMilli() {
			t.Fatalf("parseRFC3339(%q) = %d, time.Parse %d", s, got, ref.UnixMilli())
		}
	}
	f("2026-11-23T15:21:17Z", true)
	f("2026-11-23T15:21:17.9Z", true)
	f("2026-11-23T15:21:17.999999999999Z", true)
	f("2024-02-29T00:00:00Z", true)
	f("2000-02-29T00:00:00Z", true)
	f("0000-01-01T00:00:00Z", true)
	f("9999-12-31T23:59:59.999+23:59", true)
	f("1969-12-31T23:59:59.001Z", true)
	f("2026-11-23T15:21:17-00:00", true)
	f("1900-02-29T00:00:00Z", false)
	f("2026-04-31T00:00:00Z", false)
	f("2026-13-01T00:00:00Z", false)
	f("2026-00-01T00:00:00Z", false)
	f("2026-01-00T00:00:00Z", false)
	f("2026-01-01T00:60:00Z", false)
	f("2026-01-01T00:00:60Z", false)
	f("2026-01-01t00:00:00Z", true) // RFC 3339 section 5.6: T and Z may be lower case
	f("2026-01-01T00:00:00.5z", true)
	f("2026-01-01t00:00:00z", true)
	f("2026-01-01 00:00:00Z", false)
	f("2026-01-01T00:00:00Y", false)
	f("2026-01-01T00:00:00zz", false)
	f("2026-01-01T00:00:00Z\x00", false)
	f("2026-01-01T00:00:00,5Z", false)
	f("2026-01-01T00:00:00+24:00", false)
	f("2026-01-01T00:00:00+01:60", false)
	f("2026-01-01T00:00:00+01", false)
	f("2026-01-01T0:00:00Z", false)
	f("+2026-01-01T00:00:00Z", false)
	f("2026-01-01T00:00:00", false)
	f("2026-01-01", false)
	f("", false)
}

// upperTZ is s with the T at index 10 and a trailing z upper-cased, the
// form time.Parse takes (it refuses the lower case RFC 3339 allows).
func upperTZ(s string) string {
	b := []byte(s)
	if len(b) > 10 && b[10] == 't' {
		b[10] = 'T'
	}
	if n := len(b); n > 0 && b[n-1] == 'z' {
		b[n-1] = 'Z'
	}
	return string(b)
}

func TestRFC3339RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(ts int64) {
		t.Helper()
		s := appendRFC3339(nil, ts)
		layout := "2006-01-02T15:04:05.000Z07:00" // milliseconds as three digits
		if ts%1000 == 0 {
			layout = time.RFC3339 // or none
		}
		want := time.UnixMilli(ts).UTC().Format(layout)
		if string(s) != want {
			t.Fatalf("appendRFC3339(%d) = %s, time.Format %s", ts, s, want)
		}
		back, ok := parseRFC3339(s)
		if !ok || back != ts {
			t.Fatalf("parseRFC3339(%s) = %d, %v; want %d", s, back, ok, ts)
		}
	}
	f(0)
	f(1)
	f(999)
	f(maxRFC3339TS)
	f(951782400000) // 2000-02-29
	for range 20000 {
		f(r.Int64N(maxRFC3339TS + 1))
	}
}

func TestCivilDays(t *testing.T) {
	for days := int64(-800000); days < 3000000; days += 7 {
		y, m, d := civilFromDays(days)
		if back := daysFromCivil(y, m, d); back != days {
			t.Fatalf("daysFromCivil(civilFromDays(%d) = %d-%d-%d) = %d", days, y, m, d, back)
		}
		if want := time.Unix(days*86400, 0).UTC(); want.Year() != int(y) || int(want.Month()) != int(m) || want.Day() != int(d) {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, time says %s", days, y, m, d, want)
		}
	}
}
