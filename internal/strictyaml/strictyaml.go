// Package strictyaml decodes countlab's YAML files (scenarios, plans,
// target files) strictly: an unknown field or a value of the wrong type is
// a FieldError naming the field's dotted path and line, with the fix (the
// closest known field name for a misspelling, the form of the value for a
// wrong type). Its Errors also collect the validation mistakes of a
// decoded file, one a line, so that every message reads "path: what is
// wrong; the fix" (countlab exits 2 with them).
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Opt words a Decode's messages for one kind of file.
type Opt func(*decoder)

type decoder struct {
	start   string
	suggest func(best string, known []string) string
}

// Start names what a file starts with, for the message of an empty one
// ("empty file; start with name: and duration:").
func Start(fields string) Opt { return func(d *decoder) { d.start = fields } }

// Suggest words the fix of an unknown field: best is the known name
// closest to it ("" when none is within two edits), known every name at
// its place. The default is `try "best"`, else `try one of a, b, c`.
func Suggest(f func(best string, known []string) string) Opt {
	return func(d *decoder) { d.suggest = f }
}

func trySuggest(best string, known []string) string {
	switch {
	case best != "":
		return "try " + strconv.Quote(best)
	case len(known) > 0:
		return "try one of " + strings.Join(known, ", ")
	}
	return ""
}

// Decode decodes data into v (a pointer to a struct with yaml tags)
// strictly. Its errors start with name (the file's): "name: not YAML: …",
// "name: empty file; start with …", or "name:" and an Errors a line.
func Decode(name string, data []byte, v any, opts ...Opt) error {
	d := decoder{suggest: trySuggest}
	for _, o := range opts {
		o(&d)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: not YAML: %w", name, err)
	}
	if root.Kind == 0 {
		if d.start == "" {
			return fmt.Errorf("%s: empty file", name)
		}
		return fmt.Errorf("%s: empty file; start with %s", name, d.start)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s:\n%w", name, d.fieldErrors(&root, reflect.TypeOf(v), err))
	}
	return nil
}
