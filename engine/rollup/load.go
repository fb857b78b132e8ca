package rollup

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Load reads a retention config from a YAML file, strictly (an unknown
// field is an error naming it and its line), and validates it. The file
// holds the same block as a scenario's engine.retention:
//
//	granularities:
//	  - {window: 1m, retention: 168h}
//	  - {window: 1h, retention: 2160h}
//	  - {window: 24h}
//	events: 720h
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(b)
}

// Parse is Load of YAML bytes.
func Parse(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("retention config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("retention config: %w", err)
	}
	return c, nil
}
