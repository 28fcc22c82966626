package sim

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"
)

//go:embed scenarios/*.yaml scenarios/regions/*.yaml
var shipped embed.FS

// Shipped are the scenario files that come with talon.
func Shipped() ([]Scenario, error) {
	names, err := fs.Glob(shipped, "scenarios/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []Scenario
	for _, n := range names {
		raw, _ := shipped.ReadFile(n)
		sc, err := Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// Load reads a scenario file.
func Load(path string) (Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	sc, err := Parse(raw)
	if err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

// Parse decodes a scenario; an unknown field is an error.
func Parse(raw []byte) (Scenario, error) {
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err := dec.Decode(&sc)
	return sc, err
}

// ShippedRegions are the region scenario files that come with talon.
func ShippedRegions() ([]RegionScenario, error) {
	names, err := fs.Glob(shipped, "scenarios/regions/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []RegionScenario
	for _, n := range names {
		raw, _ := shipped.ReadFile(n)
		var rs RegionScenario
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&rs); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, rs)
	}
	return out, nil
}
