package coretest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultProxy is a TCP proxy for fault-injection tests: it forwards loopback
// connections to a real server (the shared PostgreSQL or Redis) until the
// test cuts it, so a test can take a dependency away from the service under
// test without stopping the shared server.
//
// It forwards connections to an upstream address. While cut it closes
// every open connection and each new one at once (the client sees its
// connection reset or closed). It counts connection attempts.
type FaultProxy struct {
	ln       net.Listener
	upstream string
	cut      atomic.Bool
	accepts  atomic.Int32
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// NewFaultProxy starts a proxy on a loopback port to upstream
// ("host:port"), closed at the end of the test.
func NewFaultProxy(tb testing.TB, upstream string) *FaultProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("coretest: fault proxy: listen: %v", err)
	}
	p := &FaultProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's "host:port".
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Accepts counts the connections clients opened to the proxy.
func (p *FaultProxy) Accepts() int { return int(p.accepts.Load()) }

// Cut drops every connection and refuses new ones until Restore.
func (p *FaultProxy) Cut() {
	p.cut.Store(true)
	p.closeAll()
}

// Restore forwards new connections again.
func (p *FaultProxy) Restore() { p.cut.Store(false) }

func (p *FaultProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// track registers c, or reports false while cut.
func (p *FaultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *FaultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	_ = c.Close()
}

func (p *FaultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepts.Add(1)
		if !p.track(c) {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.untrack(c)
			continue
		}
		if !p.track(up) {
			_ = up.Close()
			p.untrack(c)
			continue
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *FaultProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.untrack(dst)
	p.untrack(src)
}
