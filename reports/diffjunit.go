package reports

import (
	"encoding/xml"
	"fmt"
	"os"
)

// JUnitSuites is JUnit XML, the subset CI systems read.
type JUnitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one suite: a report diff's verdicts.
type JUnitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitCase is one verdict.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
}

// JUnitFailure is why a verdict failed.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit is the verdicts as JUnit: one test case per SLO of NEW, one for
// accuracy and one per compared metric.
func (d *Diff) JUnit(scenario string) JUnitSuites {
	s := JUnitSuite{Name: "countlab report diff: " + scenario}
	add := func(class, name, fail string) {
		c := JUnitCase{Name: name, ClassName: "countlab." + class}
		if fail != "" {
			c.Failure = &JUnitFailure{Message: fail, Text: fail}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	for _, sl := range d.slo {
		if sl.cur == nil {
			continue
		}
		fail := ""
		if !sl.cur.Pass {
			fail = fmt.Sprintf("%s = %s, want %s", sl.name, sloValue(sl.cur), sloThreshold(sl.cur))
		}
		add("slo", sl.name, fail)
	}
	fail := ""
	if !d.exact[1] {
		fail = "not exact: " + d.accuracyDetail()
	}
	add("accuracy", "exact", fail)
	for _, m := range d.cmp.Metrics {
		fail := ""
		if m.Regressed {
			fail = fmt.Sprintf("%s: %s vs baseline %s (%+.1f%%; minimum effect %.0f%% and %s; p=%.2g)", m.Name, fmtNum(m.Value), fmtNum(m.Baseline), 100*m.Change, 100*m.Tolerance, fmtNum(m.MinAbs), m.P)
		}
		add("regression", m.Name, fail)
	}
	s.Tests = len(s.Cases)
	return JUnitSuites{Suites: []JUnitSuite{s}}
}

// WriteJUnit writes d.JUnit(scenario) to the file path.
func (d *Diff) WriteJUnit(path, scenario string) error {
	b, err := xml.MarshalIndent(d.JUnit(scenario), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
