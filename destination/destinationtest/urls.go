package destinationtest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
)

// URLCase is one URL given to a broker kind's ParseURL: the Config it must
// read, or a part of the error ParseURL or New must give.
type URLCase[C comparable] struct {
	URL     string
	Want    C
	WantErr string
}

// CheckURLs parses each case's URL with parse and builds it with build,
// checking the Config read, or that the error is a
// *destination.ConfigError that says what the case expects. A destination
// built is closed, when it can be.
func CheckURLs[C comparable, D any](t *testing.T, parse func(string) (C, error), build func(C) (D, error), cases []URLCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.URL, func(t *testing.T) {
			t.Parallel()
			cfg, err := parse(tc.URL)
			if err == nil {
				var d D
				if d, err = build(cfg); err == nil {
					if c, ok := any(d).(io.Closer); ok {
						_ = c.Close()
					}
				}
			}
			if tc.WantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.WantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.WantErr)
				}
				if _, ok := errors.AsType[*destination.ConfigError](err); !ok {
					t.Errorf("err is %T, want a *destination.ConfigError naming the field", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg != tc.Want {
				t.Errorf("ParseURL = %+v, want %+v", cfg, tc.Want)
			}
		})
	}
}

// Open builds a destination with newFunc, failing the test when it
// refuses cfg, and closes it when the test ends, when it can be closed.
func Open[C any, D destination.Destination](t testing.TB, newFunc func(C) (D, error), cfg C) D {
	t.Helper()
	d, err := newFunc(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c, ok := any(d).(io.Closer); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	return d
}
