package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is one mistake in a target file: the field's path
// (target.ingest.kafka.topic), what is wrong, and the fix.
type FieldError struct {
	Path string
	Line int // 0 when unknown
	Msg  string
	Fix  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(cmpOr(e.Path, "(top level)"))
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

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Parse decodes a target file strictly (an unknown field or a value of
// the wrong type is an error naming the field), fills the defaults and
// validates it. name is for messages; dir is the directory relative file
// names (auth files) and the node commands are taken from.
func Parse(name string, data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %w", name, err)
	}
	if root.Kind == 0 {
		return nil, fmt.Errorf("%s: empty file; start with target: and its name:, ingest:, read: and semantics:", name)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s:\n%w", name, decodeErrors(&root, err))
	}
	f.Target.applyDefaults()
	if err := f.Target.Validate(); err != nil {
		return nil, fmt.Errorf("%s:\n%w", name, err)
	}
	return &f, nil
}

// ReadFile reads and parses the target file path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	typeRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// decodeErrors turns yaml.v3's errors (which give lines) into FieldErrors
// with the field's path, found from the line in the node tree.
func decodeErrors(root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var out Errors
	for _, msg := range te.Errors {
		fe := &FieldError{Msg: msg}
		m := lineRe.FindStringSubmatch(msg)
		if m == nil {
			out = append(out, fe)
			continue
		}
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = m[2]
		switch {
		case unknownRe.MatchString(m[2]):
			u := unknownRe.FindStringSubmatch(m[2])
			fe.Path = pathAtLine(root, fe.Line, u[1])
			fe.Msg = "unknown field " + strconv.Quote(u[1])
			parent, found := strings.CutSuffix(fe.Path, "."+u[1])
			if !found { // the line's first key: the field is under it
				fe.Path = strings.TrimPrefix(parent+"."+u[1], ".")
			}
			known := knownFields(parent)
			fe.Fix = "the fields here are " + strings.Join(known, ", ")
			if best := closest(u[1], known); best != "" {
				fe.Fix = "did you mean " + strconv.Quote(best) + "? (" + fe.Fix + ")"
			}
		case typeRe.MatchString(m[2]):
			t := typeRe.FindStringSubmatch(m[2])
			fe.Path = pathAtLine(root, fe.Line, t[2])
			fe.Msg = fmt.Sprintf("wrong type: %s %q cannot be a %s", t[1], t[2], t[3])
			if strings.Contains(t[3], "Duration") {
				fe.Fix = "write a duration such as 10s or 1m"
			}
		default:
			fe.Path = pathAtLine(root, fe.Line, "")
		}
		out = append(out, fe)
	}
	return out
}

// pathAtLine is the dotted path ("target.ingest.http.url", lists as [i])
// of the node on line whose key or scalar value is want, else of the
// first key on line (a flow mapping puts several on one line).
func pathAtLine(n *yaml.Node, line int, want string) string {
	first := ""
	var walk func(n *yaml.Node, path string) (string, bool)
	walk = func(n *yaml.Node, path string) (string, bool) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p, ok := walk(c, path); ok {
					return p, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := strings.TrimPrefix(path+"."+k.Value, ".")
				if k.Line == line && first == "" {
					first = p
				}
				if k.Line == line && (k.Value == want || v.Kind == yaml.ScalarNode && v.Value == want && want != "") {
					return p, true
				}
				if q, ok := walk(v, p); ok {
					return q, true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				if c.Line == line && c.Kind == yaml.ScalarNode && c.Value == want {
					return p, true
				}
				if q, ok := walk(c, p); ok {
					return q, true
				}
			}
		}
		return "", false
	}
	if p, ok := walk(n, ""); ok {
		return p
	}
	return first
}

// knownFields are the YAML field names of the struct at path in File.
func knownFields(path string) []string {
	t := reflect.TypeOf(File{})
	if path != "" {
		for _, part := range strings.Split(path, ".") {
			name, _, _ := strings.Cut(part, "[")
			t = fieldType(t, name)
			if t == nil {
				return nil
			}
		}
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// fieldType is the type of t's field whose YAML name is name.
func fieldType(t reflect.Type, name string) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name {
			return t.Field(i).Type
		}
	}
	return nil
}

// closest is the known name within edit distance 2 of s ("" if none).
func closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + c})
		}
		prev = cur
	}
	return prev[len(b)]
}
