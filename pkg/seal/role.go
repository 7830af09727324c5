package seal

import "fmt"

// Role is a peer's part in the handshake. The WebRTC offerer is
// RoleOfferer; on the server relay path the caller assigns roles the same
// way (the newer member of the room offers).
type Role uint8

// Roles. The zero Role is invalid.
const (
	RoleOfferer  Role = 1
	RoleAnswerer Role = 2
)

// String returns "offerer", "answerer", or "Role(n)" for an invalid role.
func (r Role) String() string {
	switch r {
	case RoleOfferer:
		return "offerer"
	case RoleAnswerer:
		return "answerer"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Valid reports whether r is RoleOfferer or RoleAnswerer.
func (r Role) Valid() bool { return r == RoleOfferer || r == RoleAnswerer }

// Peer returns the complementary role (offerer ↔ answerer), or 0 for an
// invalid role.
func (r Role) Peer() Role {
	switch r {
	case RoleOfferer:
		return RoleAnswerer
	case RoleAnswerer:
		return RoleOfferer
	}
	return 0
}

func parseRole(s string) (Role, bool) {
	switch s {
	case "offerer":
		return RoleOfferer, true
	case "answerer":
		return RoleAnswerer, true
	}
	return 0, false
}
