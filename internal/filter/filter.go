// Package filter compiles and evaluates the content filters of
// destinations: an expression over an event's payload and headers, such as
//
//	payload.channel == "whatsapp" && payload.message_status in ["FAILED", "BLOCKED"]
//
// in the language of github.com/expr-lang/expr. An expression is compiled
// once, at start, and checked then: a name that is not one of the
// variables below, operands of the wrong type, or a syntax error is an
// error that says where (line and column, and a caret under the place).
//
// The variables an expression sees:
//
//	payload  the body's "payload" object (else its "value"), as decoded JSON:
//	         strings, float64 numbers, bools, nil, lists and maps; empty when
//	         the body is not JSON or carries no payload object
//	field    the envelope's "field" as sent ("message", "templates", …)
//	type     the canonical event type ("message.delivered"); "" when unknown
//	subject  the subject's id (the message id of a message event, …)
//	status   the message or template status, upper case ("FAILED")
//	headers  the request headers hooklatch keeps, by lower-case name
//	         (x-webhook-id, x-webhook-timestamp, content-type, user-agent, …)
//
// A key the payload lacks reads as nil, so payload.channel == "whatsapp" is
// simply false for an event without a channel; comparing nil with < or >,
// or reading a key of nil, is an evaluation error (write (payload.n ?? 0) > 3,
// or payload?.a?.b).
package filter

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/hooklatch/hooklatch/store"
)

// Filter is one compiled expression. It is safe for concurrent use.
type Filter struct {
	src   string
	prog  *vm.Program
	reads Reads // what the expression reads of payload
}

// declared are the variables with their types, for the compile-time check.
var declared = map[string]any{
	"payload": map[string]any{},
	"field":   "",
	"type":    "",
	"subject": "",
	"status":  "",
	"headers": map[string]string{},
}

// Error is an expression that does not compile: what is wrong and where.
type Error struct {
	Source string
	Line   int // from 1
	Column int // from 1, in characters
	Msg    string
}

// Error says what is wrong, at line:column, with the line and a caret
// under the place.
func (e *Error) Error() string {
	lines := strings.Split(e.Source, "\n")
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%d: %s", e.Line, e.Column, e.Msg)
	if e.Line >= 1 && e.Line <= len(lines) {
		line := strings.ReplaceAll(lines[e.Line-1], "\t", " ") // one column a character, as the caret counts
		fmt.Fprintf(&b, "\n  %s\n  %s^", line, strings.Repeat(" ", max(e.Column-1, 0)))
	}
	return b.String()
}

// Compile checks and compiles src, which must give a bool.
func Compile(src string) (*Filter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("the filter is empty")
	}
	prog, err := expr.Compile(src, expr.Env(declared), expr.AsBool())
	if err != nil {
		if fe, ok := errors.AsType[*file.Error](err); ok {
			return nil, &Error{Source: src, Line: max(fe.Line, 1), Column: fe.Column + 1, Msg: fe.Message}
		}
		return nil, fmt.Errorf("the filter must give true or false: %w", err)
	}
	return &Filter{src: src, prog: prog, reads: readsOf(prog.Node())}, nil
}

// Reads is what the expression reads of payload, for VarsOf: the
// members it reads by name, or all of payload when it uses payload any
// other way.
func (f *Filter) Reads() Reads { return f.reads }

// String returns the expression as written.
func (f *Filter) String() string { return f.src }

// Vars are the variables of one event, for Match. Build them once an event
// and pass them to each destination's filter.
type Vars map[string]any

// VarsOf returns the variables of ev (see the package doc), with as much
// of the payload decoded as reads reads: all of it, only the members it
// names (the others are missing, so read nil), or none.
func VarsOf(ev *store.EventData, reads Reads) Vars {
	vars := Vars{
		"payload": emptyPayload, "field": ev.Field, "type": ev.Type,
		"subject": ev.Subject, "status": ev.Status, "headers": ev.Headers,
	}
	if ev.Headers == nil {
		vars["headers"] = map[string]string{}
	}
	switch {
	case reads.all:
		vars["payload"] = payloadOf(ev.Body)
	case len(reads.members) > 0:
		vars["payload"] = payloadMembers(ev.Body, reads.members)
	}
	return vars
}

// emptyPayload is the payload of an event that has none; never written.
var emptyPayload = map[string]any{}

// vms are virtual machines to run filters on: expr.Run makes a new one
// at every call, a fifth of what evaluating the docs' example cost.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

// Match reports whether the event of vars passes the filter. An error
// (such as payload.count > 3 for a payload without count) says the filter
// could not judge the event.
func (f *Filter) Match(vars Vars) (bool, error) {
	m := vms.Get().(*vm.VM)
	out, err := m.Run(f.prog, map[string]any(vars))
	vms.Put(m)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool) // AsBool makes the result a bool
	return ok, nil
}
