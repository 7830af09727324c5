package turnserver_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/verytippers/vtpeer/pkg/turnserver"
)

// TestWebRTCOverRelay connects two real pion PeerConnections whose only ICE
// server is the embedded TURN and whose policy is relay-only, over TURN/UDP
// and TURN/TCP, and checks that the selected pair is relay↔relay and that a
// DataChannel message crosses it.
func TestWebRTCOverRelay(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			s, reg := startServer(t, turnserver.Options{AllowLoopback: true})
			url := s.URLs()[0]
			if transport == "tcp" {
				url = s.URLs()[1]
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a := relayPeer(t, s, url, "alice-peer")
			b := relayPeer(t, s, url, "bob-peer")

			got := make(chan string, 1)
			b.OnDataChannel(func(dc *webrtc.DataChannel) {
				dc.OnMessage(func(m webrtc.DataChannelMessage) { got <- string(m.Data) })
			})
			dc, err := a.CreateDataChannel("chat", nil)
			if err != nil {
				t.Fatal(err)
			}
			opened := make(chan struct{})
			dc.OnOpen(func() { close(opened) })
			negotiate(ctx, t, a, b)
			select {
			case <-opened:
			case <-ctx.Done():
				t.Fatal("data channel never opened")
			}
			if err := dc.SendText("hi over turn"); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-got:
				if m != "hi over turn" {
					t.Fatalf("got %q", m)
				}
			case <-ctx.Done():
				t.Fatal("message never arrived")
			}
			for _, pc := range []*webrtc.PeerConnection{a, b} {
				pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
				if err != nil || pair == nil {
					t.Fatalf("selected pair: %v %v", pair, err)
				}
				if pair.Local.Typ != webrtc.ICECandidateTypeRelay || pair.Remote.Typ != webrtc.ICECandidateTypeRelay {
					t.Fatalf("selected pair %s ↔ %s, want relay ↔ relay", pair.Local, pair.Remote)
				}
			}
			if n := counter(t, reg, "vtpeer_turn_relayed_bytes_total", "to_peer"); n == 0 {
				t.Fatal("no relayed bytes counted")
			}
		})
	}
}

// relayPeer is a PeerConnection on loopback only, relay-only, with the
// embedded TURN as its only ICE server.
func relayPeer(t *testing.T, s *turnserver.Server, url, peerID string) *webrtc.PeerConnection {
	t.Helper()
	se := webrtc.SettingEngine{}
	loopback := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIPFilter(loopback)
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	se.LoggerFactory = quietLogs()
	user, pass := s.Credentials(peerID, time.Hour, time.Now())
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{
		ICEServers:         []webrtc.ICEServer{{URLs: []string{url}, Username: user, Credential: pass}},
		ICETransportPolicy: webrtc.ICETransportPolicyRelay,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.GracefulClose() })
	return pc
}

// negotiate runs offer/answer with complete candidate gathering (no trickle).
func negotiate(ctx context.Context, t *testing.T, a, b *webrtc.PeerConnection) {
	t.Helper()
	describe := func(pc *webrtc.PeerConnection, create func(*webrtc.PeerConnection) (webrtc.SessionDescription, error)) webrtc.SessionDescription {
		sd, err := create(pc)
		if err != nil {
			t.Fatal(err)
		}
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(sd); err != nil {
			t.Fatal(err)
		}
		select {
		case <-gathered:
		case <-ctx.Done():
			t.Fatal("ICE gathering did not complete")
		}
		return *pc.LocalDescription()
	}
	offer := describe(a, func(pc *webrtc.PeerConnection) (webrtc.SessionDescription, error) { return pc.CreateOffer(nil) })
	if err := b.SetRemoteDescription(offer); err != nil {
		t.Fatal(err)
	}
	answer := describe(b, func(pc *webrtc.PeerConnection) (webrtc.SessionDescription, error) { return pc.CreateAnswer(nil) })
	if err := a.SetRemoteDescription(answer); err != nil {
		t.Fatal(err)
	}
}
