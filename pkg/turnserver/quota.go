package turnserver

import (
	"net"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// users holds the per-user (peerId) quota state: live allocations and one
// bandwidth bucket shared by all of them, dropped with the last allocation.
type users struct {
	maxAllocs int        // < 0: no cap
	bandwidth rate.Limit // rate.Inf: no cap
	burst     int

	mu sync.Mutex
	m  map[string]*user
}

type user struct {
	allocs int
	lim    *rate.Limiter
}

func newUsers(maxAllocs int, bandwidth int64) *users {
	u := &users{maxAllocs: maxAllocs, bandwidth: rate.Inf, m: make(map[string]*user)}
	if bandwidth > 0 {
		u.bandwidth = rate.Limit(bandwidth)
		u.burst = int(max(bandwidth, 64<<10))
	}
	return u
}

// mayAllocate is the early check behind pion's QuotaHandler (486).
func (u *users) mayAllocate(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.maxAllocs < 0 || u.m[id] == nil || u.m[id].allocs < u.maxAllocs
}

// acquire counts one more allocation for id, atomically with the check.
func (u *users) acquire(id string) (*rate.Limiter, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	us := u.m[id]
	if us == nil {
		us = &user{lim: rate.NewLimiter(u.bandwidth, u.burst)}
		u.m[id] = us
	}
	if u.maxAllocs >= 0 && us.allocs >= u.maxAllocs {
		return nil, false
	}
	us.allocs++
	return us.lim, true
}

func (u *users) release(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if us := u.m[id]; us != nil {
		if us.allocs--; us.allocs <= 0 {
			delete(u.m, id)
		}
	}
}

// quota is the pion QuotaHandler.
func (s *Server) quota(userID, _ string, _ net.Addr) bool {
	if s.users.mayAllocate(userID) {
		return true
	}
	s.metrics.quotaRejections.Inc()
	if s.logLimit.Allow() {
		s.log.Info("turn allocation quota reached", "peer", userID)
	}
	return false
}

// relayGenerator hands pion the relay sockets: UDP sockets on the relay
// address, counted against the user's quota and wrapped so that their
// traffic is metered and rate-limited. TCP relays are refused.
type relayGenerator struct {
	s      *Server
	static *turn.RelayAddressGeneratorStatic
}

func (g *relayGenerator) Validate() error { return g.static.Validate() }

func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if conf.UserID == "" { // pion probing for an even port: closed at once
		return g.static.AllocatePacketConn(conf)
	}
	lim, ok := g.s.users.acquire(conf.UserID)
	if !ok {
		g.s.metrics.quotaRejections.Inc()
		return nil, nil, ErrAllocationQuota
	}
	conn, addr, err := g.static.AllocatePacketConn(conf)
	if err != nil {
		g.s.users.release(conf.UserID)
		return nil, nil, err
	}
	rc := &relayConn{PacketConn: conn, s: g.s, lim: lim}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	g.s.relays.add(port)
	tr, ok := g.s.track.add(conn, func() {
		g.s.relays.remove(port)
		g.s.users.release(conf.UserID)
		g.s.metrics.allocations.Dec()
	})
	if !ok {
		_ = conn.Close()
		g.s.relays.remove(port)
		g.s.users.release(conf.UserID)
		return nil, nil, ErrClosed
	}
	rc.tr = tr
	g.s.metrics.allocations.Inc()
	g.s.metrics.allocationsTotal.Inc()
	return rc, addr, nil
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, ErrTCPRelay
}

func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelay
}

// relayConn is one allocation's relay socket.
type relayConn struct {
	net.PacketConn
	s   *Server
	lim *rate.Limiter
	tr  *tracked
}

// WriteTo sends a client's datagram to a peer, or drops it: to the server's
// own address on a port that is no live allocation, or over the quota.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	dst, ok := c.s.outbound(addr)
	if !ok {
		c.s.selfDropped(c.s.metrics.selfDroppedToPeer, addr)
		return len(p), nil
	}
	addr = dst
	if !c.lim.AllowN(time.Now(), len(p)) {
		c.s.metrics.droppedToPeer.Add(float64(len(p)))
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.s.metrics.toPeer.Add(float64(n))
	return n, err
}

// ReadFrom returns the next datagram from a peer within the quota, and from
// the server's own address only from a live allocation.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.tr.beginRead()
		n, addr, err := c.PacketConn.ReadFrom(p)
		c.tr.endRead(err)
		if err != nil {
			return n, addr, err
		}
		src, ok := c.s.inbound(addr)
		if !ok {
			c.s.selfDropped(c.s.metrics.selfDroppedFromPeer, addr)
			continue
		}
		addr = src
		if c.lim.AllowN(time.Now(), n) {
			c.s.metrics.fromPeer.Add(float64(n))
			return n, addr, nil
		}
		c.s.metrics.droppedFromPeer.Add(float64(n))
	}
}

func (c *relayConn) Close() error { return c.tr.close() }
