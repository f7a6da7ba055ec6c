package destinationtest

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy between a destination and its broker, for outage
// tests: it forwards, refuses connections, swallows everything, or lets
// requests through and loses the answers, on command. It is safe for
// concurrent use.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener // nil while cut
	mode   proxyMode
	conns  map[*proxyConn]struct{}
	closed bool
}

type proxyMode int

const (
	forward     proxyMode = iota
	blackhole             // nothing passes either way
	dropReplies           // client to broker passes; broker to client is lost
)

type proxyConn struct {
	client, broker net.Conn
	lossy          bool // bytes were dropped: the stream is broken
}

// NewProxy starts a proxy on a free port of 127.0.0.1 that forwards to
// target (host:port). It stops with the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{t: t, target: target, addr: ln.Addr().String(), conns: map[*proxyConn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port, for the destination to dial.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes every connection and refuses new ones, as a broker that went
// down does.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked(func(*proxyConn) bool { return true })
}

// Blackhole keeps connections open, and accepts new ones, but lets nothing
// through either way: a broker that hangs.
func (p *Proxy) Blackhole() { p.setMode(blackhole) }

// DropReplies lets what the destination sends reach the broker and loses
// what the broker answers: a publish arrives, its confirmation does not.
func (p *Proxy) DropReplies() { p.setMode(dropReplies) }

// Restore forwards again. Connections that lost bytes are closed, since
// their protocol streams are broken; a cut proxy listens again on the same
// address.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = forward
	p.closeConnsLocked(func(c *proxyConn) bool { return c.lossy })
	if p.ln == nil && !p.closed {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Errorf("proxy: listen again on %s: %v", p.addr, err)
			return
		}
		p.serve(ln)
	}
}

func (p *Proxy) setMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
}

func (p *Proxy) closeConnsLocked(which func(*proxyConn) bool) {
	for c := range p.conns {
		if which(c) {
			_ = c.client.Close()
			_ = c.broker.Close()
			delete(p.conns, c)
		}
	}
}

// serve accepts on ln until it is closed. Called with p.mu held or before
// p is shared.
func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(ln, client)
		}
	}()
}

// handle forwards client, accepted on ln, unless the proxy was cut since
// (ln is no longer the one it listens on): a connection accepted just
// before a Cut, and registered after it, would otherwise outlive it.
func (p *Proxy) handle(ln net.Listener, client net.Conn) {
	broker, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &proxyConn{client: client, broker: broker}
	p.mu.Lock()
	if p.closed || p.ln != ln {
		p.mu.Unlock()
		_ = client.Close()
		_ = broker.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	go p.pump(c, broker, client, func(m proxyMode) bool { return m == forward || m == dropReplies })
	p.pump(c, client, broker, func(m proxyMode) bool { return m == forward })
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pump copies src to dst while passes says the mode lets bytes through in
// that direction, and drops them otherwise.
func (p *Proxy) pump(c *proxyConn, dst, src net.Conn, passes func(proxyMode) bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			pass := passes(p.mode)
			if !pass {
				c.lossy = true
			}
			p.mu.Unlock()
			if pass {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			_ = dst.Close()
			return
		}
	}
}

// Via returns rawURL with its host:port replaced by addr (a Proxy's), so a
// destination dials the proxy instead of the broker.
func Via(t testing.TB, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("Via: %v", err)
	}
	u.Host = addr
	return u.String()
}
