package devtools

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hooklatch/hooklatch/internal/yamlfile"
)

// LoadScenario reads a scenario from a YAML file, strictly: an unknown key
// is an error, so a typo never silently changes what is sent. A step's
// file is found relative to the scenario's directory.
func LoadScenario(path string) (Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	var sc Scenario
	if err := yamlfile.Decode(raw, &sc); err != nil {
		if errors.Is(err, io.EOF) {
			return Scenario{}, fmt.Errorf("%s: empty scenario", path)
		}
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(sc.Steps) == 0 {
		return Scenario{}, fmt.Errorf("%s: no steps", path)
	}
	for i := range sc.Steps {
		if f := sc.Steps[i].File; f != "" && !filepath.IsAbs(f) {
			sc.Steps[i].File = filepath.Join(filepath.Dir(path), f)
		}
	}
	return sc, nil
}
