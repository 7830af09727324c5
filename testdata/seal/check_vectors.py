#!/usr/bin/env python3
"""Independent check of vectors.json, written from docs/PROTOCOL.md
only (no Go code): python3 testdata/seal/check_vectors.py
Needs the 'cryptography' package (X25519, AES-GCM); HKDF is done by hand."""
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

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
bad = 0
for v in json.load(open(path))["vectors"]:
    h = bytes.fromhex
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
        "frameOffererToAnswerer0": frame(koa, 0, v["plaintextOffererToAnswerer"].encode()).hex(),
        "frameOffererToAnswerer1": frame(koa, 1, v["plaintextOffererToAnswerer"].encode()).hex(),
        "frameAnswererToOfferer0": frame(kao, 0, v["plaintextAnswererToOfferer"].encode()).hex(),
        "identityMessageOfferer": "vtpeer handshake v1\nroom: %s\nrole: offerer\ntranscript: %s\n" % (quote(v["room"]), th.hex()),
    }
    for k, want in got.items():
        if v[k] != want:
            bad += 1
            print("MISMATCH %s / %s:\n  file %r\n  spec %r" % (v["name"], k, v[k], want))
    print("ok" if not bad else "FAIL", v["name"])
sys.exit(1 if bad else 0)
