//go:build !unix

package execdest

import "os/exec"

// killProcessGroup leaves exec's default in place: cancellation kills the
// command, not what it started.
func killProcessGroup(*exec.Cmd) {}
