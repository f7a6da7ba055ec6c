package destinationtest_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// echo starts a TCP server that writes back each line and reports what it
// read.
func echo(t *testing.T) (addr string, got <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lines := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					lines <- line
					_, _ = io.WriteString(c, line)
				}
			}()
		}
	}()
	return ln.Addr().String(), lines
}

func roundTrip(c net.Conn, line string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, line); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestProxyModes(t *testing.T) {
	t.Parallel()
	target, got := echo(t)
	p := destinationtest.NewProxy(t, target)

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if back, err := roundTrip(c, "one\n"); err != nil || back != "one\n" || <-got != "one\n" {
		t.Fatalf("forwarding: %q, %v", back, err)
	}

	p.DropReplies()
	if back, err := roundTrip(c, "two\n"); err == nil {
		t.Errorf("DropReplies let the answer %q through", back)
	}
	if line := <-got; line != "two\n" {
		t.Errorf("DropReplies: the server read %q, want the request", line)
	}

	p.Cut()
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		c2.Close()
		t.Error("a cut proxy accepted a connection")
	}
	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	defer c3.Close()
	if back, err := roundTrip(c3, "three\n"); err != nil || back != "three\n" {
		t.Fatalf("after Restore: %q, %v", back, err)
	}
	<-got

	p.Blackhole()
	if back, err := roundTrip(c3, "four\n"); err == nil {
		t.Errorf("Blackhole let %q through", back)
	}
	select {
	case line := <-got:
		t.Errorf("Blackhole let the server read %q", line)
	default:
	}
}
