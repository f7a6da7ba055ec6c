package cli

import (
	"fmt"
	"strconv"

	"github.com/hooklatch/hooklatch/internal/dispatch"
)

// routeLimits applies a destination's rate and concurrency to p: from its
// config entry's keys (rateKey, concKey; zero values when unset) and its
// URL's parameters. Set in both, they must agree.
func routeLimits(p *dispatch.Policy, rateKey string, concKey int, fromURL destParams) error {
	rateText := rateKey
	if fromURL.rate != "" {
		if rateKey != "" && rateKey != fromURL.rate {
			return usageError("rate is %s in the entry and %s in the URL: give it once", rateKey, fromURL.rate)
		}
		rateText = fromURL.rate
	}
	r, err := dispatch.ParseRate(rateText)
	if err != nil {
		return usageError("%v", err)
	}
	p.Rate = r
	p.Concurrency = concKey
	if fromURL.concurrency != "" {
		n, err := strconv.Atoi(fromURL.concurrency)
		if err != nil || n <= 0 {
			return usageError("concurrency=%s: want a count of deliveries in flight at once, such as concurrency=4", fromURL.concurrency)
		}
		if concKey != 0 && concKey != n {
			return usageError("concurrency is %d in the entry and %d in the URL: give it once", concKey, n)
		}
		p.Concurrency = n
	}
	if p.Concurrency < 0 {
		return usageError("concurrency %d: want a count of deliveries in flight at once", p.Concurrency)
	}
	return nil
}

// breakerFailures reads a breaker_failures setting as a Policy's: 0 turns
// the breaker off.
func breakerFailures(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("%d: want a count of consecutive failures, 0 for no breaker", n)
	case n == 0:
		return -1, nil
	}
	return n, nil
}
