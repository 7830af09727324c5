#!/usr/bin/env python3
"""Independent check of vectors.json, offline.json and continuity.json, written from
docs/PROTOCOL.md only (no Go code): python3 testdata/seal/check_vectors.py
Needs the 'cryptography' package (X25519, AES-GCM) and PyCryptodome for
Keccak-256 (Debian: python3-cryptography python3-pycryptodome); HKDF and
the HPKE key schedule (RFC 9180) are done by hand from hmac."""
import base64, hashlib, hmac, json, os, struct, sys
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

TAG = b"vtpeer/seal/v1"
def lp(b): return struct.pack(">I", len(b)) + b
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
def hkdf_extract(salt, ikm): return hmac.new(salt, ikm, hashlib.sha256).digest()
def hkdf_expand32(prk, info): return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
def hello(role, fp, key=None, commit=None):
    s = '{"type":"hello","v":1,"role":"%s"' % role
    if commit: s += ',"commit":"%s"' % b64(commit)
    if key: s += ',"key":"%s"' % b64(key)
    if fp: s += ',"fp":"%s"' % b64(fp)
    return s + "}"
def frame(key, seq, pt):
    hdr = bytes([1]) + struct.pack(">Q", seq)
    return hdr + AESGCM(key).encrypt(b"\0\0\0\0" + struct.pack(">Q", seq), pt, hdr)
def quote(room):  # JSON.stringify semantics
    return json.dumps(room, ensure_ascii=False)

def app_frame(f):  # PROTOCOL.md "Application frames", big-endian
    if f["type"] == "start":
        ident = f["identity"].encode()
        return b"\x01" + bytes.fromhex(f["instance"]) + struct.pack(">QH", f["base"], len(ident)) + ident
    if f["type"] == "data":
        kind = f["kind"].encode()
        return b"\x02" + struct.pack(">QQB", f["seq"], f["ack"], len(kind)) + kind + f["body"].encode()
    return b"\x03" + struct.pack(">Q", f["seq"])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
bad = 0
for v in json.load(open(path))["vectors"]:
    h = bytes.fromhex
    if "appFrames" in v:  # the plaintexts are application frames
        a = v["appFrames"]
        pt_oa0, pt_oa1, pt_ao0 = (app_frame(a[k]) for k in ("offererToAnswerer0", "offererToAnswerer1", "answererToOfferer0"))
    else:  # text: the same plaintext in both offerer frames
        pt_oa0 = pt_oa1 = v["plaintextOffererToAnswerer"].encode()
        pt_ao0 = v["plaintextAnswererToOfferer"].encode()
    po, pa = pub(h(v["offererPrivate"])), pub(h(v["answererPrivate"]))
    fo, fa = h(v["offererFingerprint"]), h(v["answererFingerprint"])
    commit = hashlib.sha256(lp(TAG + b" commit") + lp(po)).digest()
    shared = X25519PrivateKey.from_private_bytes(h(v["offererPrivate"])).exchange(X25519PublicKey.from_public_bytes(pa))
    th = hashlib.sha256(lp(TAG) + lp(v["room"].encode()) + lp(po) + lp(fo) + lp(pa) + lp(fa)).digest()
    prk = hkdf_extract(th, shared)
    koa, kao, ksas = (hkdf_expand32(prk, TAG + s) for s in (b" key offerer->answerer", b" key answerer->offerer", b" sas"))
    sas = "%06d" % (struct.unpack(">Q", ksas[:8])[0] % 1000000)
    got = {
        "offererPublic": po.hex(), "answererPublic": pa.hex(), "commit": commit.hex(),
        "offererHello": hello("offerer", fo, commit=commit), "answererHello": hello("answerer", fa, key=pa),
        "reveal": '{"type":"reveal","key":"%s"}' % b64(po),
        "sharedSecret": shared.hex(), "transcriptHash": th.hex(),
        "keyOffererToAnswerer": koa.hex(), "keyAnswererToOfferer": kao.hex(), "sasKey": ksas.hex(), "sas": sas,
        "plaintextOffererToAnswerer0Hex": pt_oa0.hex(), "plaintextOffererToAnswerer1Hex": pt_oa1.hex(),
        "plaintextAnswererToOfferer0Hex": pt_ao0.hex(),
        "frameOffererToAnswerer0": frame(koa, 0, pt_oa0).hex(),
        "frameOffererToAnswerer1": frame(koa, 1, pt_oa1).hex(),
        "frameAnswererToOfferer0": frame(kao, 0, pt_ao0).hex(),
        "identityMessageOfferer": "vtpeer handshake v1\nroom: %s\nrole: offerer\ntranscript: %s\n" % (quote(v["room"]), th.hex()),
    }
    for k, want in got.items():
        if v[k] != want:
            bad += 1
            print("MISMATCH %s / %s:\n  file %r\n  spec %r" % (v["name"], k, v[k], want))
    print("ok" if not bad else "FAIL", v["name"])

# --- offline.json: identity with a static key, mailbox id, mail, receipt ---
try:
    from Cryptodome.Hash import keccak  # Debian's python3-pycryptodome
except ImportError:
    from Crypto.Hash import keccak      # PyPI's pycryptodome

def keccak256(b):
    k = keccak.new(digest_bits=256); k.update(b); return k.digest()
def eip191(text):
    b = text.encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(b)).encode() + b)
def hkdf_expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest(); out += t; i += 1
    return out[:n]
# HPKE base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (RFC 9180)
KEM_ID = b"KEM" + struct.pack(">H", 0x20)
SUITE_ID = b"HPKE" + struct.pack(">HHH", 0x20, 1, 2)
def labeled_extract(sid, salt, label, ikm): return hkdf_extract(salt, b"HPKE-v1" + sid + label + ikm)
def labeled_expand(sid, prk, label, info, n):
    return hkdf_expand(prk, struct.pack(">H", n) + b"HPKE-v1" + sid + label + info, n)
def hpke_open(sk, pk, info, blob):
    ver, enc, ct = blob[:1], blob[1:33], blob[33:]
    dh = X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(enc))
    eae = labeled_extract(KEM_ID, b"", b"eae_prk", dh)
    shared = labeled_expand(KEM_ID, eae, b"shared_secret", enc + pk, 32)
    ctx = b"\x00" + labeled_extract(SUITE_ID, b"", b"psk_id_hash", b"") + labeled_extract(SUITE_ID, b"", b"info_hash", info)
    secret = labeled_extract(SUITE_ID, shared, b"secret", b"")
    key = labeled_expand(SUITE_ID, secret, b"key", ctx, 32)
    nonce = labeled_expand(SUITE_ID, secret, b"base_nonce", ctx, 12)  # sequence number 0
    return AESGCM(key).decrypt(nonce, ct, ver)
def parse_content(b):
    assert b[0] == 1, "content version"
    p, f = 1, []
    for _ in range(3):
        n = b[p]; f.append(b[p+1:p+1+n].decode()); p += 1 + n
    sent = struct.unpack(">q", b[p:p+8])[0]; p += 8
    n = b[p]; sig = b[p+1:p+1+n]; p += 1 + n
    n = struct.unpack(">I", b[p:p+4])[0]; body = b[p+4:]
    assert n == len(body), "body length"
    return f[0], f[1], f[2], sent, sig, body
def go_quote(s):  # the receipt's quoted fields are printable ASCII: \" and \\ escaped
    assert all(0x20 <= ord(c) < 0x7f for c in s), "receipt fields are printable ASCII"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

o = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "offline.json")))
h = bytes.fromhex
idv, m, r = o["identity"], o["mail"], o["receipt"]
static = pub(h(idv["staticPrivate"]))
text = "vtpeer handshake v1\nroom: %s\nrole: %s\ntranscript: %s\nstatic-key: %s\n" % (
    quote(idv["room"]), idv["role"], idv["transcript"], static.hex())
info = lp(b"vtpeer/mail/v1") + lp(m["room"].encode())
content = hpke_open(h(m["recipientPrivate"]), pub(h(m["recipientPrivate"])), info, h(m["blob"]))
mid, mfrom, mkind, msent, msig, mbody = parse_content(content)
mtext = "vtpeer mail v1\nroom: %s\nto: %s\nid: %s\nfrom: %s\nkind: %s\nsent-at: %d\nbody: %s\n" % (
    quote(m["room"]), pub(h(m["recipientPrivate"])).hex(), mid, mfrom, mkind, msent, hashlib.sha256(mbody).hexdigest())
rdigest = "vtpeer receipt v1\nmessageHash:%s\naccepted:%s\ncode:%s\nreason:%s\nforwarded:%s\n" % (
    r["messageHash"], "true" if r["accepted"] else "false", go_quote(r["code"]), go_quote(r["reason"]), go_quote(r["forwarded"]))
rjson = json.loads(r["json"])
got = {
    "identity.staticKey": (idv["staticKey"], static.hex()),
    "identity.text": (idv["text"], text),
    "identity.eip191Hash": (idv["eip191Hash"], eip191(text).hex()),
    "identity.mailboxId": (idv["mailboxId"], hashlib.sha256(b"vtpeer/mailbox/v1" + static).digest()[:16].hex()),
    "mail.hpkeInfo": (m["hpkeInfo"], info.hex()),
    "mail.content": (m["content"], content.hex()),
    "mail.fields": ((m["id"], m["from"], m["kind"], m["sentAt"], m["signature"], m["body"]),
                    (mid, mfrom, mkind, msent, msig.hex(), mbody.decode())),
    "mail.signingText": (m["signingText"], mtext),
    "mail.eip191Hash": (m["eip191Hash"], eip191(mtext).hex()),
    "receipt.digest": (r["digest"], rdigest),
    "receipt.eip191Hash": (r["eip191Hash"], eip191(rdigest).hex()),
    "receipt.json": ((rjson["messageHash"], rjson["accepted"], rjson.get("code", ""), rjson.get("reason", ""),
                      rjson.get("forwarded", ""), rjson["signature"][2:].lower()),
                     (r["messageHash"], r["accepted"], r["code"], r["reason"], r["forwarded"], r["signature"])),
}
obad = 0
for k, (want, have) in got.items():
    if want != have:
        obad += 1
        print("MISMATCH offline / %s:\n  file %r\n  spec %r" % (k, want, have))
print("ok" if not obad else "FAIL", "offline vectors (identity with static key, mailbox id, HPKE mail, receipt digest)")

# --- continuity.json: seal version 2 (PROTOCOL.md "Continuity (hello version 2)") and the
# application frames (PROTOCOL.md "Application frames") ---
TAG2 = b"vtpeer/seal/v2"
def cont_id(cs): return hkdf_expand32(cs, TAG2 + b" continuity id")[:16]
def hello2(v, role, fp, key=None, commit=None, rs=()):
    s = '{"type":"hello","v":%d,"role":"%s"' % (v, role)
    if commit: s += ',"commit":"%s"' % b64(commit)
    if key: s += ',"key":"%s"' % b64(key)
    if fp: s += ',"fp":"%s"' % b64(fp)
    if role == "offerer":
        for i, x in enumerate(rs): s += ',"rs%d":"%s"' % (i + 1, b64(x))
    elif rs:
        s += ',"rs":"%s"' % b64(rs[0])
    return s + "}"
def session(v):
    """Both sides of one handshake, from the inputs of v, as PROTOCOL.md says."""
    po, pa = pub(h(v["offererPrivate"])), pub(h(v["answererPrivate"]))
    fo, fa = h(v["offererFingerprint"]), h(v["answererFingerprint"])
    ro, ra = [h(x) for x in v["offererRetained"]], [h(x) for x in v["answererRetained"]]
    ver = 2 if ro else 1  # an offerer with retained secrets sends v2; the answerer answers alike
    ids_o, ids_a = [cont_id(x) for x in ro], [cont_id(x) for x in ra]
    cs, rs = b"", b""
    for i in ids_o:  # the first of the offerer's ids the answerer also holds
        if i in ids_a:
            rs, cs = i, ro[ids_o.index(i)]
            break
    commit = hashlib.sha256(lp(TAG + b" commit") + lp(po)).digest()
    z = X25519PrivateKey.from_private_bytes(h(v["offererPrivate"])).exchange(X25519PublicKey.from_public_bytes(pa))
    if ver == 1:
        th = hashlib.sha256(lp(TAG) + lp(v["room"].encode()) + lp(po) + lp(fo) + lp(pa) + lp(fa)).digest()
        prk, labels = hkdf_extract(th, z), TAG
    else:
        th = hashlib.sha256(lp(TAG2) + lp(v["room"].encode()) + lp(po) + lp(fo) + lp(pa) + lp(fa) + lp(rs)).digest()
        prk, labels = hkdf_extract(th, z + cs), TAG2
    koa, kao, ksas = (hkdf_expand32(prk, labels + x) for x in (b" key offerer->answerer", b" key answerer->offerer", b" sas"))
    nxt, kc = hkdf_expand32(prk, TAG2 + b" continuity"), hkdf_expand32(prk, TAG2 + b" close")
    gen = v["closeGen"]
    tag = lambda role: hmac.new(kc, bytes([role]) + struct.pack(">Q", gen), hashlib.sha256).digest()
    return {
        "version": ver, "offererRetainedIds": [x.hex() for x in ids_o], "answererRetainedIds": [x.hex() for x in ids_a],
        "offererHello": hello2(ver, "offerer", fo, commit=commit, rs=ids_o),
        "answererHello": hello2(ver, "answerer", fa, key=pa, rs=(rs,) if rs else ()),
        "reveal": '{"type":"reveal","key":"%s"}' % b64(po),
        "continuedId": rs.hex(), "continuedSecret": cs.hex(),
        "sharedSecret": z.hex(), "transcriptHash": th.hex(), "prk": prk.hex(),
        "keyOffererToAnswerer": koa.hex(), "keyAnswererToOfferer": kao.hex(), "sasKey": ksas.hex(),
        "sas": "%06d" % (struct.unpack(">Q", ksas[:8])[0] % 1000000),
        "continuitySecret": nxt.hex(), "continuityId": cont_id(nxt).hex(), "closeKey": kc.hex(),
        "closeTagOfferer": tag(1).hex(), "closeTagAnswerer": tag(2).hex(),
    }
def app_plaintext(f):
    if f["type"] == "start":
        ident = f.get("identity", "").encode()
        return b"\x01" + h(f["instance"]) + struct.pack(">QH", f["base"], len(ident)) + ident
    if f["type"] == "data":
        kind = f["kind"].encode()
        return b"\x02" + struct.pack(">QQB", f["appSeq"], f.get("ack", 0), len(kind)) + kind + f["body"].encode()
    return b"\x03" + struct.pack(">Q", f["appSeq"])

c = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "continuity.json")))
cbad = 0
def expect(what, want, have):
    global cbad
    if want != have:
        cbad += 1
        print("MISMATCH continuity / %s:\n  file %r\n  spec %r" % (what, want, have))
first = c["first"]
expect("first.version", first["version"], 1)
for v in [first] + c["sessions"]:
    for k, have in session(v).items():
        expect("%s / %s" % (v["name"], k), v[k], have)
# The chain: every later handshake names the first session's continuity secret.
for v in c["sessions"]:
    expect(v["name"] + " / retains the first secret",
           first["continuitySecret"] in v["offererRetained"] + v["answererRetained"], True)
expect("continued session continues the first", c["sessions"][0]["continuedId"], first["continuityId"])
expect("abort", c["abort"]["message"], '{"type":"abort","code":"%s"}' % c["abort"]["code"])
keys = {s["name"]: s for s in c["sessions"]}[c["framesOf"]]
for i, f in enumerate(c["frames"]):
    key = keys["keyOffererToAnswerer"] if f["direction"] == "offererToAnswerer" else keys["keyAnswererToOfferer"]
    pt = app_plaintext(f)
    expect("frame %d plaintext" % i, f["plaintext"], pt.hex())
    expect("frame %d sealed" % i, f["frame"], frame(h(key), f["seq"], pt).hex())
relay = c["sessions"][1]
for rc in c["relayClose"]:
    tag = relay["closeTagOfferer"] if rc["sender"] == "offerer" else relay["closeTagAnswerer"]
    expect("relay close " + rc["sender"], rc["data"], '{"gen":%d,"t":"close","b":"%s"}' % (rc["gen"], b64(h(tag))))
print("ok" if not cbad else "FAIL", "continuity vectors (v2 hellos, TH2, keys, SAS, continuity ids and secrets, close tags, abort, application frames)")
sys.exit(1 if bad or obad or cbad else 0)
