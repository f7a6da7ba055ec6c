package store

import (
	"context"
	"strings"
)

// MaxTypeArms bounds the stored types a pattern (EventFilter.Type ending
// in "*") is expanded to. A backend lists such a pattern as one walk of
// the (type, seq) index per stored type it names, merged in seq order, so
// that a page costs the same however many events match; past this many
// types it may match the pattern row by row instead.
const MaxTypeArms = 64

// TypePrefix returns what a pattern ending in "*" ("message.*") names the
// types starting with, and false for an exact type.
func TypePrefix(pattern string) (prefix string, ok bool) {
	return strings.CutSuffix(pattern, "*")
}

// TypesMatching returns those of stored that pattern names, in stored's
// order: the one type it is, or those starting with its prefix.
func TypesMatching(pattern string, stored []string) []string {
	prefix, ok := TypePrefix(pattern)
	var out []string
	for _, t := range stored {
		if t == pattern || ok && strings.HasPrefix(t, prefix) {
			out = append(out, t)
		}
	}
	return out
}

// PatternTypes returns the stored types pattern names when it is a
// pattern with a prefix, reading them with stored; none is true when it
// names no stored type, so that nothing matches. An exact type, "*" and
// "" give no types and need no reading.
func PatternTypes(ctx context.Context, pattern string, stored func(context.Context) ([]string, error)) (types []string, none bool, err error) {
	if prefix, ok := TypePrefix(pattern); !ok || prefix == "" {
		return nil, false, nil
	}
	all, err := stored(ctx)
	if err != nil {
		return nil, false, err
	}
	types = TypesMatching(pattern, all)
	return types, len(types) == 0, nil
}

// TypeArms returns the types a listing by f walks the (type, seq) index
// for, one walk each merged in seq order: f's exact type, or types, the
// stored types its pattern names. It returns nil when the listing tests
// the type on each event it walks instead: no type filter, "*", a pattern
// naming more than MaxTypeArms types, or a pattern with a delivery state
// found from its few deliveries (dead, pending) or with AttentionOnly,
// found from its few events, which every walk would read again.
func TypeArms(f EventFilter, types []string) []string {
	prefix, pattern := TypePrefix(f.Type)
	switch {
	case f.Type == "", pattern && prefix == "":
		return nil
	case !pattern:
		return []string{f.Type}
	case len(types) > MaxTypeArms, f.Delivery == DeliveryDead, f.Delivery == DeliveryPending, f.AttentionOnly:
		return nil
	}
	return types
}
