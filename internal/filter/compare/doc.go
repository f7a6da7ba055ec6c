// Package compare is the benchmark that chose the expression library of
// hooklatch's content filters (package filter): it evaluates the same
// filter on the same Sent body with github.com/expr-lang/expr and with
// cel.dev/cel-go. It is a module of its own so that hooklatch does not
// depend on the library it did not choose. Run it with
//
//	cd internal/filter/compare && go test -bench . -count 3
package compare
