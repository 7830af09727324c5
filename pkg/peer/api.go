package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// pionStack is the Node's pion configuration: one API and one certificate shared by every
// PeerConnection of the Node.
//
// pion opens the ICE UDP sockets of each PeerConnection itself, through bufferedNet, which gives
// each socket large kernel buffers: with the default ~208 KiB receive buffer a loopback bulk
// transfer drops datagrams, halves throughput and swings from run to run. The kernel silently
// caps SetReadBuffer/SetWriteBuffer at net.core.rmem_max / wmem_max.
//
// There is no ICE UDP mux (one socket shared by every PeerConnection, SetICEUDPMux): pion's mux
// reads the socket in a goroutine of its own and queues each datagram for its PeerConnection in
// an 8 KiB buffer, without bound. When that PeerConnection's reader falls behind (a loaded
// machine), the mux moves the kernel's backlog into the Go heap at 7 times its size: up to the
// SCTP window's ~3,500 packets, ~28 MiB. Without it the backlog waits in the kernel's socket
// buffer and pion's ICE buffer (1 MB) holds the rest (docs/BENCHMARKS.md, "File transfer").
type pionStack struct {
	api         *webrtc.API
	cert        webrtc.Certificate
	fingerprint []byte // SHA-256 of our DTLS certificate (DER)
}

func newPionStack(o *Options) (*pionStack, error) {
	s := &pionStack{}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate dtls key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("generate dtls certificate: %w", err)
	}
	s.cert = *cert
	fps, err := cert.GetFingerprints()
	if err != nil || len(fps) == 0 || fps[0].Algorithm != "sha-256" {
		return nil, fmt.Errorf("dtls certificate fingerprint: %w", err)
	}
	s.fingerprint, err = hex.DecodeString(strings.ReplaceAll(fps[0].Value, ":", ""))
	if err != nil {
		return nil, fmt.Errorf("dtls certificate fingerprint: %w", err)
	}

	se := webrtc.SettingEngine{}
	// a=max-message-size in our SDP announces the largest sealed frame we take on this path; the
	// peer sends no larger (RFC 8841). With ViaAuto and ViaServer we also send no larger than
	// RelayMaxFrame (a message must fit whichever path it is resent on): announcing the same
	// makes the limit symmetric, so a peer cannot hand us a frame we could not resend to it.
	se.SetSCTPMaxMessageSize(uint32(announcedMaxMessageSize(o)))
	se.SetSCTPMaxReceiveBufferSize(4 << 20)
	// SCTP zero checksum (RFC 9653): we announce in INIT / INIT-ACK that we accept SCTP packets
	// without a CRC32c, because DTLS's AEAD already authenticates every record; a peer that
	// announced the same gets packets without one from us. It is negotiated per direction: a peer
	// that does not announce it (an older vtpeer, a browser without it) still gets CRC32c, and
	// its packets are checked as before. It saves computing and checking a CRC32c per ~1.2 KB
	// packet (about 1 % of the CPU of a bulk transfer here: docs/BENCHMARKS.md).
	se.EnableSCTPZeroChecksum(!o.knobs.noZeroCsum)
	// Cap the SCTP retransmission timeout (pion default 60 s): under heavy loss the exponential
	// backoff otherwise freezes a chat for tens of seconds.
	se.SetSCTPRTOMax(3 * time.Second)
	// Keep at least 32 KiB in flight. Under random loss (20 % in TestLossySlowLink) pion's
	// congestion control shrinks the window to one packet and waits out a 1 s RTO per loss:
	// ~5 KB/s, 2,000 small messages in 80 s. With this floor, 10,000 messages each way take
	// ~40 s under -race. The cost: on a congested (not just lossy) path SCTP backs off less than
	// TCP would; 32 KiB is a small fraction of the 4 MiB socket buffers, and a chat/tip tool
	// rarely has that much in flight.
	se.SetSCTPMinCwnd(32 << 10)
	se.SetSCTPFastRtxWnd(32 << 10)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	// No acceptance stall: by default pion waits up to 1 s before nominating a prflx pair when a
	// connectivity check arrives before the trickled candidate. A relay pair waits TURNWait in
	// ViaAuto (default none): pion keeps the first pair it nominates, and behind port-restricted
	// cone NATs the relay pair, which works at once, can win the race against a direct pair that
	// needs a check from each side first.
	se.SetHostAcceptanceMinWait(0)
	se.SetSrflxAcceptanceMinWait(0)
	se.SetPrflxAcceptanceMinWait(0)
	se.SetRelayAcceptanceMinWait(relayWait(o))

	t := o.knobs.iceTimeouts
	se.SetICETimeouts(t[0], t[1], t[2])
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se.LoggerFactory = lf

	if o.knobs.loopbackOnly {
		se.SetIPFilter(isLoopback)
		se.SetRemoteIPFilter(isLoopback)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if o.knobs.vnet != nil {
		se.SetNet(o.knobs.vnet)
		se.SetIPFilter(func(ip net.IP) bool { return !ip.IsLoopback() })
	} else {
		std, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("ice network: %w", err)
		}
		se.SetNet(&bufferedNet{Net: std, size: o.UDPBufferSize})
	}
	s.api = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	return s, nil
}

// relayWait is the relay candidate acceptance wait: TURNWait in ViaAuto, none otherwise (in
// ViaTURN the relay is the only path).
func relayWait(o *Options) time.Duration {
	if o.Via == ViaAuto {
		return o.TURNWait
	}
	return 0
}

// bufferedNet is the host network with UDPBufferSize as the kernel read and write buffer of
// every UDP socket pion opens for ICE (host and server-reflexive candidates).
type bufferedNet struct {
	transport.Net
	size int
}

// ListenUDP opens the socket and sets its buffers. Errors setting them are not fatal: the kernel
// may refuse or cap; pion still works.
func (b *bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := b.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if b.size > 0 {
		_ = c.SetReadBuffer(b.size)
		_ = c.SetWriteBuffer(b.size)
	}
	return c, nil
}

func toWebRTC(servers []ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(servers))
	for _, s := range servers {
		ws := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			ws.Credential = s.Credential
		}
		out = append(out, ws)
	}
	return out
}
