package reports

// Config is a report's config: the scenario (or plan) that ran, defaults
// filled, as its YAML document decodes (snake_case keys, durations as
// text like "1m0s"). It is a document, not a schema of its own: the
// scenario file's fields are documented in scenarios/scenario.go.
type Config map[string]any

// Section is the config's top-level section key as a document (nil when
// it is absent or not an object).
func (c Config) Section(key string) Config {
	m, _ := c[key].(map[string]any)
	return m
}

// Number is the config's number at key (0 when absent).
func (c Config) Number(key string) float64 {
	f, _ := c[key].(float64)
	return f
}
