// Package execdest hands each event to a command: a script, a small
// program in any language, a one-off integration.
//
//	dest, err := execdest.New(execdest.Config{
//		Command: []string{"/usr/local/bin/on-sent-event", "--quiet"},
//		Timeout: 10 * time.Second,
//	})
//
// Command is an argv, run as is: no shell parses it. Each delivery starts
// the command once, in its own process group, with
//
//   - the event's raw body on stdin, byte for byte, as Sent sent it;
//   - the environment of hooklatch, then Config.Env, then
//     HOOKLATCH_EVENT_ID, HOOKLATCH_EVENT_TYPE, HOOKLATCH_SUBJECT_KIND,
//     HOOKLATCH_SUBJECT, HOOKLATCH_DELIVERY_ID, HOOKLATCH_ATTEMPT,
//     HOOKLATCH_DEDUPE_KEY, HOOKLATCH_STALE ("true" when a later state of
//     the subject had already been received, else "false") and
//     HOOKLATCH_SUBJECT_STATUS (the subject's latest status; empty for an
//     event with no subject) and HOOKLATCH_SOURCE (the source it came in
//     on: sent, or a configured source's name);
//   - stdout and stderr together kept, the last MaxOutputBytes of them, as
//     the attempt's response.
//
// # Exit statuses
//
// The command says how it went with its exit status, after sysexits.h:
//
//	0                          delivered
//	75  EX_TEMPFAIL            temporary: retried with backoff
//	64  EX_USAGE               permanent: the delivery goes to dead
//	65  EX_DATAERR             permanent
//	77  EX_NOPERM              permanent
//	any other non-zero status  temporary
//	killed by a signal         temporary
//	still running at Timeout   temporary; its whole process group is killed
//	could not start            temporary (a missing or non-executable file
//	                           can be fixed without touching the event)
//
// So a script that fails by accident (status 1, a crash) is retried, and
// one that knows the event can never be handled says so with 65.
//
// # Time limits
//
// At Config.Timeout, or when the attempt's context ends first, the command
// and everything it started in its process group get SIGKILL. A child that
// left the group (setsid, a daemon) is not followed, but its hold on the
// output pipes is dropped after a second so the attempt still ends.
//
// The process group needs a Unix system; elsewhere only the command itself
// is killed.
package execdest
