package reports

import (
	"reflect"
	"strings"
	"testing"
)

func TestRedactArgs(t *testing.T) {
	in := []string{"countlab", "run", "x", "--token=abc", "--kafka-password", "pw", "--influx-token", "--x", "--insecure-no-token", "keep", "-Password=p2", "--windows=1m"}
	want := []string{"countlab", "run", "x", "--token=REDACTED", "--kafka-password", "REDACTED", "--influx-token", "--x", "--insecure-no-token", "keep", "-Password=REDACTED", "--windows=1m"}
	if got := RedactArgs(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if in[3] != "--token=abc" {
		t.Fatal("RedactArgs changed its argument")
	}
}

func TestNewProvenance(t *testing.T) {
	p := NewProvenance([]string{"countlab", "--token", "secret"})
	if p.GoVersion == "" || p.CPUs < 1 || p.OS == "" || p.Arch == "" || p.CommandLine[2] != "REDACTED" {
		t.Fatalf("%+v", p)
	}
}

func TestProvenanceRendered(t *testing.T) {
	p := NewProvenance([]string{"countlab", "run", "x", "--token=s3cret"})
	r := &Report{Scenario: "x", Pass: true, Provenance: &p}
	md := r.Markdown()
	if !strings.Contains(md, "## Provenance") || !strings.Contains(md, p.GoVersion) || strings.Contains(md, "s3cret") {
		t.Errorf("report.md:\n%s", md)
	}
	var html strings.Builder
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<h2>Provenance</h2>") || strings.Contains(html.String(), "s3cret") {
		t.Error("report.html without the provenance section, or with the secret")
	}
}
