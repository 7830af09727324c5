// Checks, in the browser the tests use, the Web APIs docs/PROTOCOL.md "Peer
// sessions" tells a page to use. Two RTCPeerConnections in this page connect
// over loopback; the result is window.apis.
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const sdpFingerprint = (sdp) => {
  const m = /a=fingerprint:sha-256 ([0-9A-F:]+)/i.exec(sdp);
  return m ? m[1].replace(/:/g, '').toLowerCase() : '';
};
async function run() {
  const out = {};
  out.x25519 = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']).then(() => true, () => false);
  const certA = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' });
  const fpA = certA.getFingerprints().find((f) => f.algorithm === 'sha-256');
  out.ownFingerprint = fpA ? fpA.value.replace(/:/g, '').toLowerCase() : '';
  const a = new RTCPeerConnection({ certificates: [certA] });
  const b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const dc = a.createDataChannel('verytippers-data', { ordered: true });
  const opened = new Promise((r) => { dc.onopen = r; });
  await a.setLocalDescription(await a.createOffer());
  out.offerFingerprint = sdpFingerprint(a.localDescription.sdp);
  out.offerMaxMessageSize = (/a=max-message-size:(\d+)/.exec(a.localDescription.sdp) || [])[1] || '';
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await opened;
  out.sctpMaxMessageSize = a.sctp.maxMessageSize;
  const certs = b.sctp.transport.getRemoteCertificates();
  out.remoteCertificates = certs.length;
  out.remoteCertFingerprint = certs.length ? hex(await crypto.subtle.digest('SHA-256', certs[0])) : '';
  a.close(); b.close();
  return out;
}
window.apis = null;
run().then((r) => { window.apis = r; }, (e) => { window.apis = { error: String(e) }; });
