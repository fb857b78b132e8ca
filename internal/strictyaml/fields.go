package strictyaml

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in type (.+)$`)
	typeRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// fieldErrors turns yaml.v3's errors (which give lines) into Errors with
// the field's path, found from the line in the node tree; t is the type
// decoded into, for the known field names.
func (d *decoder) fieldErrors(root *yaml.Node, t reflect.Type, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var out Errors
	for _, msg := range te.Errors {
		fe := &FieldError{Msg: msg}
		out = append(out, fe)
		m := lineRe.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = m[2]
		if u := unknownRe.FindStringSubmatch(m[2]); u != nil {
			name := u[1]
			fe.Path = pathAtLine(root, fe.Line, name)
			fe.Msg = "unknown field " + strconv.Quote(name)
			parent, found := strings.CutSuffix(fe.Path, "."+name)
			switch {
			case fe.Path == name:
				parent = ""
			case !found: // the line's first key: the field is under it
				fe.Path = strings.TrimPrefix(parent+"."+name, ".")
			}
			known := knownFields(t, parent)
			fe.Fix = d.suggest(Closest(name, known), known)
		} else if ty := typeRe.FindStringSubmatch(m[2]); ty != nil {
			fe.Path = pathAtLine(root, fe.Line, ty[2])
			if ty[2] == "" { // a list or mapping: the path is its key's
				fe.Msg = fmt.Sprintf("wrong type: a %s is not a %s", yamlKind(ty[1]), goTypeName(ty[3]))
			} else {
				fe.Msg = fmt.Sprintf("wrong type: %s %q is not a %s", yamlKind(ty[1]), ty[2], goTypeName(ty[3]))
			}
			if h := typeHint(ty[3]); h != "" {
				fe.Fix = "try " + h
			}
		} else {
			fe.Path = pathAtLine(root, fe.Line, "")
		}
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
	case strings.HasPrefix(t, "map"), strings.Contains(t, "."): // a struct of the file's
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

// pathAtLine is the dotted path (lists as [i]) of the node on line whose
// key or scalar value is want; for want "" (a list or mapping in error),
// of the last key on line with such a value (the innermost of a flow
// mapping); else of the first key on line (a flow mapping puts several
// on one line).
func pathAtLine(n *yaml.Node, line int, want string) string {
	first, nested := "", ""
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
				if k.Line == line && want == "" && v.Kind != yaml.ScalarNode {
					nested = p
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
				if c.Line == line && want == "" && nested == "" { // a block list's first line
					nested = path
				}
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
	return cmp.Or(nested, first)
}

// knownFields are the YAML field names of the struct at path (indices
// dropped) under t.
func knownFields(t reflect.Type, path string) []string {
	if path != "" {
		for _, part := range strings.Split(path, ".") {
			name, _, _ := strings.Cut(part, "[")
			if t = fieldType(t, name); t == nil {
				return nil
			}
		}
	}
	return names(t)
}

// names are the YAML field names of struct t, its inline fields' too.
func names(t reflect.Type) []string {
	if t = deref(t); t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		switch n := yamlName(t.Field(i)); {
		case isInline(t.Field(i)):
			out = append(out, names(t.Field(i).Type)...)
		case n != "" && n != "-":
			out = append(out, n)
		}
	}
	return out
}

// fieldType is the type of t's field whose YAML name is name (nil if
// none).
func fieldType(t reflect.Type, name string) reflect.Type {
	if t = deref(t); t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if isInline(f) {
			if ft := fieldType(f.Type, name); ft != nil {
				return ft
			}
		} else if yamlName(f) == name {
			return f.Type
		}
	}
	return nil
}

func isInline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return yamlName(f) == "" && strings.Contains(","+opts+",", ",inline,")
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

func yamlName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return n
}

// Closest is the known name within two edits of s ("" if none), for
// the fix of a misspelt name.
func Closest(s string, known []string) string {
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
