package target

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/countlab/countlab/internal/strictyaml"
)

// FieldError is one mistake in a target file: the field's path
// (target.ingest.kafka.topic), what is wrong, and the fix.
type FieldError = strictyaml.FieldError

// Errors is every mistake found, one a line.
type Errors = strictyaml.Errors

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Parse decodes a target file strictly (an unknown field or a value of
// the wrong type is an error naming the field), fills the defaults and
// validates it. name is for messages.
func Parse(name string, data []byte) (*File, error) {
	var f File
	if err := strictyaml.Decode(name, data, &f,
		strictyaml.Start("target: and its name:, ingest:, read: and semantics:"),
		strictyaml.Suggest(didYouMean)); err != nil {
		return nil, err
	}
	f.Target.applyDefaults()
	if err := f.Target.Validate(); err != nil {
		return nil, fmt.Errorf("%s:\n%w", name, err)
	}
	return &f, nil
}

// didYouMean words an unknown field's fix the way the target file's other
// fixes read: `did you mean "best"? (the fields here are a, b)`.
func didYouMean(best string, known []string) string {
	fix := "the fields here are " + strings.Join(known, ", ")
	if best != "" {
		fix = "did you mean " + strconv.Quote(best) + "? (" + fix + ")"
	}
	return fix
}

// ReadFile reads and parses the target file path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}
