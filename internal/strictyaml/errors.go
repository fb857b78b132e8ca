package strictyaml

import (
	"strconv"
	"strings"
)

// FieldError is one mistake in a file: the field's dotted path
// (traffic.keys.zipf_s, lists as [i]), its line (0 when unknown), what is
// wrong and the fix.
type FieldError struct {
	Path string
	Line int
	Msg  string
	Fix  string
}

// Error is "path (line N): msg; fix", "(top level)" for no path.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
	} else {
		b.WriteString("(top level)")
	}
	if e.Line > 0 {
		b.WriteString(" (line " + strconv.Itoa(e.Line) + ")")
	}
	b.WriteString(": " + e.Msg)
	if e.Fix != "" {
		b.WriteString("; " + e.Fix)
	}
	return b.String()
}

// Errors is every mistake found, one a line.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Add appends the mistake msg at path with its fix.
func (es *Errors) Add(path, msg, fix string) {
	*es = append(*es, &FieldError{Path: path, Msg: msg, Fix: fix})
}

// Err is es, or nil when there are none.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
