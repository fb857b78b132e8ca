package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed *.yaml
var shipped embed.FS

// FieldError is one mistake in a scenario: the field's path
// (traffic.keys.zipf_s), what is wrong, and a hint.
type FieldError struct {
	Path string
	Line int // 0 when unknown
	Msg  string
	Hint string
}

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
	if e.Hint != "" {
		b.WriteString("; try " + e.Hint)
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

// Parse decodes a scenario strictly (an unknown field or a value of the
// wrong type is an error naming the field's path), fills the defaults and
// validates it. name is for messages (the file name).
func Parse(name string, data []byte) (*Scenario, error) {
	var s Scenario
	if err := decodeStrict(name, data, &s, "name: and duration:", decodeErrors); err != nil {
		return nil, err
	}
	return &s, nil
}

// document is a YAML file countlab decodes strictly: a scenario or a
// plan.
type document interface {
	applyDefaults()
	Validate() error
}

// decodeStrict decodes data into doc strictly, fills its defaults and
// validates it. Errors start with name; an empty file's says to start
// with first; decodeErrs turns the decoder's errors into ones naming the
// field path with a hint.
func decodeStrict(name string, data []byte, doc document, first string, decodeErrs func(*yaml.Node, error) error) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: not YAML: %w", name, err)
	}
	if root.Kind == 0 {
		return fmt.Errorf("%s: empty file; start with %s", name, first)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s:\n%w", name, decodeErrs(&root, err))
	}
	doc.applyDefaults()
	if err := doc.Validate(); err != nil {
		return fmt.Errorf("%s:\n%w", name, err)
	}
	return nil
}

// Load reads and parses the scenario file path.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Lookup loads a scenario by file path, or by the name of a shipped one
// ("quickstart").
func Lookup(nameOrPath string) (*Scenario, error) {
	if isFileArg(nameOrPath) {
		return Load(nameOrPath)
	}
	data, err := shipped.ReadFile(nameOrPath + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no scenario file %q and no shipped scenario of that name (shipped: %s)", nameOrPath, strings.Join(Names(), ", "))
	}
	return Parse(nameOrPath+".yaml", data)
}

// Names are the shipped scenarios' names, sorted.
func Names() []string { return yamlNames(shipped, ".") }

// yamlNames are the names of the .yaml files in dir of fsys, without the
// extension, sorted.
func yamlNames(fsys fs.ReadDirFS, dir string) []string {
	ents, _ := fsys.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// isFileArg reports whether a name-or-path argument is a file: it looks
// like a path or a YAML file name, and is there (or cannot be looked at
// for another reason than not being there, which Load then reports).
func isFileArg(nameOrPath string) bool {
	if !strings.ContainsAny(nameOrPath, `/\`) && !strings.HasSuffix(nameOrPath, ".yaml") && !strings.HasSuffix(nameOrPath, ".yml") {
		return false
	}
	_, err := os.Stat(nameOrPath)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// Shipped returns the YAML of a shipped scenario.
func Shipped(name string) ([]byte, error) { return shipped.ReadFile(name + ".yaml") }

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	typeRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// decodeErrors turns yaml.v3's errors (which give lines) into FieldErrors
// with the field path, found from the line in the node tree.
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
		path := pathAtLine(root, fe.Line)
		fe.Path = path
		if u := unknownRe.FindStringSubmatch(m[2]); u != nil {
			fe.Msg = "unknown field " + strconv.Quote(u[1])
			parent := ""
			if p, ok := strings.CutSuffix(path, "."+u[1]); ok {
				parent = p
			} else if path != u[1] {
				parent = path
				fe.Path = strings.TrimPrefix(path+"."+u[1], ".")
			}
			known := knownFields(parent)
			if best := closest(u[1], known); best != "" {
				fe.Hint = strconv.Quote(best)
			} else if len(known) > 0 {
				fe.Hint = "one of " + strings.Join(known, ", ")
			}
		} else if t := typeRe.FindStringSubmatch(m[2]); t != nil {
			if t[2] == "" { // a list or mapping: the path is its key's
				fe.Path = strings.TrimSuffix(fe.Path, "[0]")
				fe.Msg = fmt.Sprintf("wrong type: a %s is not a %s", yamlKind(t[1]), goTypeName(t[3]))
			} else {
				fe.Msg = fmt.Sprintf("wrong type: %s %q is not a %s", yamlKind(t[1]), t[2], goTypeName(t[3]))
			}
			fe.Hint = typeHint(t[3])
		}
		out = append(out, fe)
	}
	return out
}

func yamlKind(tag string) string {
	switch tag {
	case "seq":
		return "list"
	case "map":
		return "mapping"
	case "str":
		return "text"
	case "int", "float":
		return "number"
	}
	return tag
}

func goTypeName(t string) string {
	switch {
	case t == "time.Duration":
		return "duration"
	case strings.HasPrefix(t, "float"):
		return "number"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "whole number"
	case t == "bool":
		return "boolean"
	case strings.HasPrefix(t, "[]"):
		return "list"
	case strings.HasPrefix(t, "map"), strings.HasPrefix(t, "scenarios."):
		return "mapping"
	}
	return t
}

func typeHint(t string) string {
	switch goTypeName(t) {
	case "duration":
		return "a duration like 30s, 5m or 1h"
	case "number":
		return "a number like 1.5"
	case "whole number":
		return "a whole number like 10"
	case "boolean":
		return "true or false"
	case "list":
		return "a list: [a, b] or one '- item' a line"
	case "mapping":
		return "a mapping of 'name: value' lines"
	}
	return ""
}

// pathAtLine finds the dotted path of the mapping key, or the scalar
// value, on line.
func pathAtLine(n *yaml.Node, line int) string {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	var best string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := strings.TrimPrefix(path+"."+k.Value, ".")
				if k.Line == line || v.Line == line && v.Kind == yaml.ScalarNode {
					best = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				if c.Line == line && c.Kind == yaml.ScalarNode {
					best = p
				}
				walk(c, p)
			}
		}
	}
	walk(n, "")
	return best
}

// knownFields lists the YAML field names of the struct at path (indices
// dropped).
func knownFields(path string) []string {
	return knownFieldsIn(reflect.TypeOf(Scenario{}), path)
}

func fieldByYAML(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if yamlName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return n
}

// closest is the known name nearest to s (edit distance <= 3), or "".
func closest(s string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ConfigMap is the scenario, defaults filled, as the generic map its
// YAML decodes to: snake_case keys and durations as text ("1m0s"), for
// a report's config.
func (s *Scenario) ConfigMap() map[string]any {
	b, err := yaml.Marshal(s)
	if err != nil {
		return nil
	}
	var m map[string]any
	if yaml.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}
