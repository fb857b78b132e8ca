package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/countlab/countlab/internal/strictyaml"
	"gopkg.in/yaml.v3"
)

//go:embed *.yaml
var shipped embed.FS

// FieldError is one mistake in a scenario: the field's path
// (traffic.keys.zipf_s), what is wrong, and the fix ("try 1.1").
type FieldError = strictyaml.FieldError

// Errors is every mistake found, one a line.
type Errors = strictyaml.Errors

// Parse decodes a scenario strictly (an unknown field or a value of the
// wrong type is an error naming the field's path), fills the defaults and
// validates it. name is for messages (the file name).
func Parse(name string, data []byte) (*Scenario, error) {
	var s Scenario
	if err := decodeStrict(name, data, &s, "name: and duration:"); err != nil {
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
// with first.
func decodeStrict(name string, data []byte, doc document, first string) error {
	if err := strictyaml.Decode(name, data, doc, strictyaml.Start(first)); err != nil {
		return err
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
