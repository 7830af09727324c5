// A stand-in for the ORIGINAL VeryTippers browser client (the /p2p page of the
// app, served from the app's own origin, e.g. http://localhost:5173), written
// from its protocol as the developers' brief and docs/PROTOCOL.md ("Browser
// client sequence") describe it. It knows nothing of vtpeer: no peerId, no
// seal, no gen; it ignores the fields vtpeer adds (from, peers, v).
//
//   → {"type":"join","room":R}                 ← {"type":"joined","room":R,…}
//   the member already in the room, on peer-joined, creates the DataChannel
//   "verytippers-data" and sends {"type":"offer","room":R,"data":<description>};
//   the newcomer answers {"type":"answer","room":R,"data":<description>};
//   both send {"type":"ice","room":R,"data":<candidate>} as candidates come.
//
// Query: ?signal=<ws url>&room=<room>. State for tests: window.origclient.
const params = new URLSearchParams(location.search);
const signalURL = params.get('signal');
const room = params.get('room') || 'lobby';

const state = { status: 'idle', received: [], errors: [], open: false, label: '' };
window.origclient = state;

function log(text) {
  const li = document.createElement('li');
  li.textContent = text;
  document.getElementById('log').append(li);
  console.log(text);
}
function setStatus(s) {
  state.status = s;
  document.getElementById('status').textContent = s;
  log('status: ' + s);
}

const ws = new WebSocket(signalURL);
let pc = null;
let channel = null;
let pending = []; // candidates that arrived before the remote description

function send(type, data) {
  ws.send(JSON.stringify({ type, room, data }));
}

function newPeerConnection() {
  // the original app passes its STUN servers here; tests run on loopback only
  const p = new RTCPeerConnection({ iceServers: [] });
  p.onicecandidate = (e) => { if (e.candidate) send('ice', e.candidate.toJSON()); };
  p.onconnectionstatechange = () => log('connection: ' + p.connectionState);
  p.ondatachannel = (e) => useChannel(e.channel);
  return p;
}

function useChannel(ch) {
  channel = ch;
  state.label = ch.label;
  ch.onopen = () => { state.open = true; setStatus('open'); };
  ch.onclose = () => { state.open = false; setStatus('closed'); };
  ch.onmessage = (e) => { state.received.push(String(e.data)); log('received: ' + e.data); };
}

async function remote(desc) {
  await pc.setRemoteDescription(desc);
  for (const c of pending) await pc.addIceCandidate(c);
  pending = [];
}

ws.onopen = () => { setStatus('connecting'); ws.send(JSON.stringify({ type: 'join', room })); };
ws.onerror = () => { state.errors.push('websocket error'); setStatus('error'); };
ws.onclose = (e) => log('signaling closed ' + e.code);
ws.onmessage = async (e) => {
  const msg = JSON.parse(e.data);
  try {
    switch (msg.type) {
      case 'joined':
        setStatus('joined');
        break;
      case 'peer-joined': // we were here first: we offer
        pc = newPeerConnection();
        useChannel(pc.createDataChannel('verytippers-data'));
        await pc.setLocalDescription(await pc.createOffer());
        send('offer', pc.localDescription.toJSON());
        break;
      case 'offer':
        pc = newPeerConnection();
        await remote(msg.data);
        await pc.setLocalDescription(await pc.createAnswer());
        send('answer', pc.localDescription.toJSON());
        break;
      case 'answer':
        await remote(msg.data);
        break;
      case 'ice':
        if (pc && pc.remoteDescription) await pc.addIceCandidate(msg.data);
        else pending.push(msg.data);
        break;
      case 'error':
        state.errors.push(msg.error);
        log('server error: ' + msg.error);
        break;
      default:
        break; // other types are not this client's business
    }
  } catch (err) {
    state.errors.push(String(err));
    log('failed: ' + err);
  }
};

/** Sends text on the open DataChannel. */
state.send = (text) => { channel.send(text); return true; };
