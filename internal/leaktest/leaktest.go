// Package leaktest tells tests which goroutines of hooklatch's own are
// running, to check that what was started has stopped.
package leaktest

import (
	"runtime"
	"strings"
)

// Stacks returns the stack of every goroutine running hooklatch's code
// that a test did not start itself: a receiver's, a dispatcher's, a
// store's. Goroutines exit only once what started them has waited for
// them, so a test that compares Stacks before and after has no timing to
// guess.
func Stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/hooklatch/hooklatch/") && !strings.Contains(g, "testing.tRunner") &&
			!strings.Contains(g, "internal/leaktest.Stacks") {
			ours = append(ours, g)
		}
	}
	return ours
}
