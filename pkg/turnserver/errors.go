package turnserver

import "errors"

var (
	// ErrBadOptions reports Options that fail validation; the wrapped text
	// says which field.
	ErrBadOptions = errors.New("turnserver: bad options")
	// ErrNoRelayIP reports a server listening on a wildcard address without
	// Options.PublicIP when no local address with a default route exists
	// either: the server cannot tell clients where its relays are.
	ErrNoRelayIP = errors.New("turnserver: cannot tell the relay address: set PublicIP")
	// ErrAllocationQuota is returned to pion when a user already holds
	// Options.MaxAllocationsPerUser allocations.
	ErrAllocationQuota = errors.New("turnserver: allocation quota reached")
	// ErrTCPRelay refuses RFC 6062 TCP allocations; vtpeer relays UDP only.
	ErrTCPRelay = errors.New("turnserver: tcp relays are not supported")
	// ErrClosed is returned for work asked of a closed Server.
	ErrClosed = errors.New("turnserver: server closed")
	// ErrCloseTimeout reports that Close gave up waiting for a socket reader
	// to return (a bug in the TURN library, not a client's doing).
	ErrCloseTimeout = errors.New("turnserver: close timed out")
)
