"""Interop test of src/session/identity (shared-secret tokens, app ids,
header signatures) and the wire's header AAD against code we did not write.

Usage: test_identity_interop.py IDENTITY_TOOL PYTHON_STUB_DIR

Expected values come from independent code: Python's hmac, hashlib, base64
and json for the tokens (ref_verify below re-states upstream's verifier,
crates/auth/src/shared_secret.rs at cece03f79, step by step), Python
protobuf for HeaderIntegrityAad, python3-cryptography for the signatures,
the xxhash module for the app ids, and one message made by upstream's own
SDK (@agntcy/slim-bindings), captured on the wire.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import string
import subprocess
import sys
import unittest

TOOL = sys.argv[1]
sys.path.insert(0, sys.argv[2])
del sys.argv[1:3]

import xxhash  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: E402
    decode_dss_signature, encode_dss_signature)
from data_plane.v1 import data_plane_pb2 as pb  # noqa: E402

SECRET = b"interop-shared-secret-of-at-least-32-chars"
NOW = 1_800_000_000
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# A DISCOVERY_REQUEST sent by upstream's SDK (@agntcy/slim-bindings
# 2.0.0-alpha.5, core "2.0.0-alpha.8") for an app made with
# createAppWithSecret("agntcy/ns/alice", SECRET), captured by a gRPC
# recorder standing in for a node (the sessions between upstream apps and
# ours in upstream/test_upstream.py are the live check). Its token is dated 1796300416.
UPSTREAM_MSG = bytes.fromhex(
    "1aff030ae5030a4c0a3508c2d7f58beb85aace1610d1a1a6e3a4d3ddfcee011882e3daadfa91afc87b22"
    "1408d2878493dfafdbcc0c1083abe8bcb9cbb5b50e12130a0661676e74637912026e731a05616c696365"
    "124c0a3708c2d7f58beb85aace1610d1a1a6e3a4d3ddfcee0118c4e795d7b7e886d749221608ffffffff"
    "ffffffffff0110ffffffffffffffffff0112110a0661676e74637912026e731a03626f621ae80161676e"
    "7463792f6e732f616c6963655f754f4d446f4f6b6c3a313739363330303431363a586b7a4137734e6e70"
    "69436d644974323a65794a7764574a725a586b694f694a4353316b31643239706333413362314633616d"
    "707a516e42775231647051334e3454566c5a4f557056556c7051524339534f466876636d684e4e325179"
    "4f56565a636e46696157466957474e3454564d7764576c574f576c705a305a685a484a6f634455355a43"
    "397351546c4b5a48704c4f565539496e303a755f2d74397732474132633662597633723635393442594d"
    "43416c754747333071553635755f545a5a676320012a0d322e302e302d616c7068612e38300848006247"
    "304502200d2fbe8178496757df08225121f6c2c3c2048bbefcca1398344eba2d88d8c96d022100da3cbf"
    "95162ec8ef3d3deb9a826c6e5d70f7f5c8ec07d5b7660d79b7d605fe26120f0801100518ffead2920620"
    "bbfe8a4e1a0412020a00")
UPSTREAM_TS = 1796300416

# Component hashes of ../shared/spec/session-layer.md section 1.2.
H = {"agntcy": 0x169CA82EB17D6BC2, "ns": 0xEEF9769A4C6990D1,
     "alice": 0x7B90BC8FA5B6B182, "bob": 0x49AE1B437AE573C4}
ANY = 2**64 - 1


class Tool:
    """One identity_tool process, one command per line."""

    def __init__(self):
        self.p = subprocess.Popen([TOOL], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

    def __call__(self, *args):
        line = " ".join(a if isinstance(a, str) else
                        (str(a) if isinstance(a, int) else (a.hex() or "-")) for a in args)
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().split()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


TOOL_P = None


def tool(*args):
    return TOOL_P(*args)


def status(*args):
    return tool(*args)[0]


# ---- upstream's rules, restated -------------------------------------------

def b64url_nopad(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def rust_b64_decode(s, url):
    """Rust's base64 crate: URL_SAFE_NO_PAD (url=True; '=' refused) or
    STANDARD (canonical padding required); both refuse non-zero trailing
    bits. Canonical means: the text re-encodes to itself."""
    alphabet = (string.ascii_letters + string.digits + ("-_" if url else "+/")).encode()
    body = s if url else s.rstrip(b"=")
    if any(c not in alphabet for c in body):
        return None
    if url:
        if len(s) % 4 == 1:
            return None
        raw = base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))
        return raw if b64url_nopad(raw) == s else None
    if len(s) % 4:
        return None
    raw = base64.b64decode(s, validate=True)
    return raw if base64.b64encode(raw) == s else None


def rust_u64(s):
    """str::parse::<u64>: optional '+', one or more ASCII digits, no overflow."""
    d = s[1:] if s.startswith(b"+") else s
    if not d or any(c not in b"0123456789" for c in d):
        return None
    v = int(d)
    return v if v < 2**64 else None


def ref_verify(token, secret=SECRET, now=NOW, validity=3600, skew=5):
    """SharedSecret::try_verify, one step after the other."""
    if b":" not in token:
        return "E_IDENTITY_MALFORMED"
    message, mac = token.rsplit(b":", 1)
    parts = message.split(b":", 3)
    if len(parts) < 4 or b":" in parts[3]:
        return "E_IDENTITY_MALFORMED"
    ts = rust_u64(parts[1])
    if ts is None:
        return "E_IDENTITY_MALFORMED"
    if ts > now:
        if ts - now > skew:
            return "E_IDENTITY_NOT_YET_VALID"
    elif now - ts > validity:
        return "E_IDENTITY_EXPIRED"
    if len(mac) != 43:
        return "E_IDENTITY_MALFORMED"
    tag = rust_b64_decode(mac, url=True)
    if tag is None:
        return "E_IDENTITY_BAD_BASE64"
    if not hmac.compare_digest(hmac.new(secret, message, hashlib.sha256).digest(), tag):
        return "E_IDENTITY_BAD_MAC"
    return "OK"


def claims_of(pubkey):
    """The claims field upstream writes: serde_json's compact JSON."""
    text = json.dumps({"pubkey": base64.b64encode(pubkey).decode()}, separators=(",", ":"))
    return b64url_nopad(text.encode())


def make_token(ident=b"svc_AbCd1234", ts=NOW, nonce=b"\x07" * 12, claims=b"",
               secret=SECRET):
    msg = b":".join([ident, str(ts).encode() if isinstance(ts, int) else ts,
                     b64url_nopad(nonce), claims])
    return msg + b":" + b64url_nopad(hmac.new(secret, msg, hashlib.sha256).digest())


def app_id(text):
    h = xxhash.xxh3_128_intdigest(text)
    if h >= 2**128 - 51:
        h %= 2**128 - 51
    return "%016x" % (h >> 64), "%016x" % (h & (2**64 - 1))


def p256_point(key, compressed=False):
    fmt = (serialization.PublicFormat.CompressedPoint if compressed
           else serialization.PublicFormat.UncompressedPoint)
    return key.public_key().public_bytes(serialization.Encoding.X962, fmt)


def ed_raw(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


# ---- messages ----------------------------------------------------------------

def name(svc, id_=(ANY, ANY), strings=True, with_id=True):
    n = pb.Name()
    n.name.component_0 = H["agntcy"]
    n.name.component_1 = H["ns"]
    n.name.component_2 = H[svc]
    if with_id:
        n.name.name_id.id_0, n.name.name_id.id_1 = id_
    if strings:
        n.str_name.str_component_0 = "agntcy"
        n.str_name.str_component_1 = "ns"
        n.str_name.str_component_2 = svc
    return n


def publish(mtype=5, stype=1, identity="", src=None, dst=None, payload_type=None,
            session_id=77, message_id=12345):
    m = pb.Message()
    p = m.publish
    p.header.source.CopyFrom(src if src is not None else name("alice", (1, 2)))
    p.header.source.SetInParent()
    p.header.destination.CopyFrom(dst if dst is not None else name("bob"))
    p.header.destination.SetInParent()
    p.header.identity = identity
    p.header.fanout = 1
    p.header.ttl = 8
    p.header.version = "2.3.0"
    p.session.session_type = stype
    p.session.session_message_type = mtype
    p.session.session_id = session_id
    p.session.message_id = message_id
    if payload_type is not None:
        p.msg.app_payload.payload_type = payload_type
        p.msg.app_payload.blob = b"hello"
    elif 5 <= mtype <= 20:
        p.msg.command_payload.discovery_request.SetInParent()
    return m


def expected_aad(m):
    """upstream's build_aad (crates/session/src/mls_state.rs) through prost:
    names cloned (prost keeps no unknown fields), enum accessors fall back
    to 0 for unknown values, payload_type of an ApplicationPayload."""
    p = m.publish
    a = pb.HeaderIntegrityAad(version=1)
    a.source.CopyFrom(p.header.source)
    a.source.SetInParent()
    a.destination.CopyFrom(p.header.destination)
    a.destination.SetInParent()
    a.source.DiscardUnknownFields()
    a.destination.DiscardUnknownFields()
    a.identity = p.header.identity
    st, mt = p.session.session_type, p.session.session_message_type
    a.session_type = st if st in pb.SessionType.values() else 0
    a.session_message_type = mt if mt in pb.SessionMessageType.values() else 0
    a.session_id = p.session.session_id
    a.message_id = p.session.message_id
    if p.HasField("msg") and p.msg.WhichOneof("content_type") == "app_payload":
        a.payload_type = p.msg.app_payload.payload_type
    return a.SerializeToString()


class Provider(unittest.TestCase):
    def setUp(self):
        r = tool("new", b"agntcy/ns/alice", SECRET, 0)
        self.assertEqual(r[0], "OK", r)
        self.id, self.pk = bytes.fromhex(r[1]), bytes.fromhex(r[4])
        self.app = (r[2], r[3])

    def test_id_and_app_id(self):
        base, _, suffix = self.id.rpartition(b"_")
        self.assertEqual(base, b"agntcy/ns/alice")
        self.assertEqual(len(suffix), 8)
        self.assertTrue(all(chr(c) in string.ascii_letters + string.digits for c in suffix))
        self.assertEqual(self.app, app_id(self.id))
        # a new identity draws a new suffix, so a new app id
        r = tool("new", b"agntcy/ns/alice", SECRET, 0)
        self.assertNotEqual(bytes.fromhex(r[1]), self.id)

    def test_token_as_upstream_makes_it(self):
        token = bytes.fromhex(tool("token", NOW)[1])
        fields = token.split(b":")
        self.assertEqual(len(fields), 5)
        ident, ts, nonce, claims, mac = fields
        self.assertEqual(ident, self.id)
        self.assertEqual(ts, str(NOW).encode())
        self.assertEqual(len(nonce), 16)
        self.assertEqual(len(rust_b64_decode(nonce, url=True)), 12)
        self.assertEqual(claims, claims_of(self.pk))  # byte for byte
        self.assertEqual(mac, b64url_nopad(
            hmac.new(SECRET, token.rsplit(b":", 1)[0], hashlib.sha256).digest()))
        self.assertEqual(ref_verify(token), "OK")
        self.assertEqual(ref_verify(token, now=NOW + 3601), "E_IDENTITY_EXPIRED")
        self.assertEqual(ref_verify(token, secret=SECRET + b"x"), "E_IDENTITY_BAD_MAC")
        self.assertEqual(len(self.pk), 65)
        self.assertEqual(self.pk[0], 4)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.pk)

    def test_token_reused_until_half_validity(self):
        t0 = tool("token", NOW)[1]
        self.assertEqual(tool("token", NOW + 1799)[1], t0)
        t1 = tool("token", NOW + 1800)[1]
        self.assertNotEqual(t1, t0)
        self.assertTrue(bytes.fromhex(t1).split(b":")[1] == str(NOW + 1800).encode())
        # a clock that went back gets a new token, never one from its future
        t2 = tool("token", NOW + 10)[1]
        self.assertEqual(bytes.fromhex(t2).split(b":")[1], str(NOW + 10).encode())
        # nonces differ between tokens
        self.assertNotEqual(bytes.fromhex(t1).split(b":")[2], bytes.fromhex(t2).split(b":")[2])

    def test_validity_setting(self):
        tool("new", b"svc", SECRET, 60)
        t0 = tool("token", NOW)[1]
        self.assertEqual(tool("token", NOW + 29)[1], t0)
        self.assertNotEqual(tool("token", NOW + 30)[1], t0)

    def test_signature_verifies_in_python(self):
        for data in (b"", b"x", os.urandom(1000)):
            sig = bytes.fromhex(tool("sign", data)[1])
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.pk)
            key.verify(sig, data, ec.ECDSA(hashes.SHA256()))  # DER, or it raises
            self.assertEqual(encode_dss_signature(*decode_dss_signature(sig)), sig)

    def test_bad_ids_and_secrets(self):
        for bad in (b"", b"a:b", b"a b", b"a\tb", "a\u00a0b".encode(), "a\u3000b".encode(),
                    b"a\x00b", b"\xff", b"a\xc0\x80"):
            self.assertEqual(status("new", bad, SECRET, 0), "E_IDENTITY_BAD_ID", bad)
        self.assertEqual(status("new", b"svc", b"", 0), "E_IDENTITY_NO_SECRET")
        # short secrets are accepted (the caller warns)
        r = tool("new", "agntcy/ns/é".encode(), b"secret", 0)
        self.assertEqual(r[0], "OK")
        token = bytes.fromhex(tool("token", NOW)[1])
        self.assertEqual(ref_verify(token, secret=b"secret"), "OK")


class Verifier(unittest.TestCase):
    def setUp(self):
        self.assertEqual(status("verifier", SECRET), "OK")

    def check(self, token, now=NOW):
        return status("check", now, token)

    def test_python_tokens_accepted(self):
        for t in (make_token(),
                  make_token(ident="agntcy/ns/é_x".encode()),
                  make_token(ident=b""),  # upstream does not look at the id
                  make_token(claims=claims_of(b"\x04" + b"\x01" * 64)),
                  make_token(ts=b"+" + str(NOW).encode()),
                  make_token(ts=b"000" + str(NOW).encode()),
                  make_token(ts=NOW - 3600), make_token(ts=NOW + 5)):
            self.assertEqual(ref_verify(t), "OK", t)
            r = tool("check", NOW, t)
            self.assertEqual(r[0], "OK", t)
            self.assertEqual(bytes.fromhex(r[1]) if r[1] != "-" else b"", t.split(b":")[0])
            ts = rust_u64(t.split(b":")[1])
            self.assertEqual((int(r[2]), int(r[3])), (ts, ts + 3600))

    def test_tampered_tokens_refused(self):
        good = make_token(ident=b"svc_AbCd1234", claims=claims_of(b"\x04" * 65))
        ident, ts, nonce, claims, mac = good.split(b":")
        other_mac = b64url_nopad(hashlib.sha256(b"x").digest())
        cases = {
            "id": (b"svc_AbCd1235", ts, nonce, claims, mac),
            "timestamp": (ident, str(NOW - 1).encode(), nonce, claims, mac),
            "nonce": (ident, ts, b64url_nopad(b"\x08" * 12), claims, mac),
            "claims": (ident, ts, nonce, claims_of(b"\x04" * 64 + b"\x05"), mac),
            "mac": (ident, ts, nonce, claims, other_mac),
            "mac first char": (ident, ts, nonce, claims,
                               (b"B" if mac[:1] == b"A" else b"A") + mac[1:]),
            "mac trailing bits": (ident, ts, nonce, claims,
                                  mac[:-1] + (b"B" if mac[-1:] != b"B" else b"C")),
            "mac bad char": (ident, ts, nonce, claims, mac[:-1] + b"+"),
            "mac padded": (ident, ts, nonce, claims, mac + b"="),
            "mac short": (ident, ts, nonce, claims, mac[:-1]),
            "mac long": (ident, ts, nonce, claims, mac + b"A"),
            "mac empty": (ident, ts, nonce, claims, b""),
            "timestamp letters": (ident, b"12a", nonce, claims, mac),
            "timestamp negative": (ident, b"-5", nonce, claims, mac),
            "timestamp empty": (ident, b"", nonce, claims, mac),
            "timestamp plus only": (ident, b"+", nonce, claims, mac),
            "timestamp overflow": (ident, str(2**64).encode(), nonce, claims, mac),
            "timestamp space": (ident, b" " + ts, nonce, claims, mac),
            "expired": (ident, str(NOW - 3601).encode(), nonce, claims, mac),
            "future": (ident, str(NOW + 6).encode(), nonce, claims, mac),
        }
        want = {"id": "E_IDENTITY_BAD_MAC", "timestamp": "E_IDENTITY_BAD_MAC",
                "nonce": "E_IDENTITY_BAD_MAC", "claims": "E_IDENTITY_BAD_MAC",
                "mac": "E_IDENTITY_BAD_MAC", "mac first char": "E_IDENTITY_BAD_MAC",
                "mac trailing bits": "E_IDENTITY_BAD_BASE64",
                "mac bad char": "E_IDENTITY_BAD_BASE64", "mac padded": "E_IDENTITY_MALFORMED",
                "mac short": "E_IDENTITY_MALFORMED", "mac long": "E_IDENTITY_MALFORMED",
                "mac empty": "E_IDENTITY_MALFORMED", "expired": "E_IDENTITY_EXPIRED",
                "future": "E_IDENTITY_NOT_YET_VALID"}
        for what, fields in cases.items():
            t = b":".join(fields)
            expect = want.get(what, "E_IDENTITY_MALFORMED")
            self.assertEqual(ref_verify(t), expect, what)
            self.assertEqual(self.check(t), expect, what)
        for t in (b"", b"a", b"a:b", b"a:b:c", b"a:b:c:d", b":::", b"::::",
                  good + b":x", good.replace(b":", b"", 1), good.replace(claims, b"a:b")):
            self.assertEqual(ref_verify(t), "E_IDENTITY_MALFORMED", t)
            self.assertEqual(self.check(t), "E_IDENTITY_MALFORMED", t)
        self.assertEqual(self.check(make_token(secret=b"another secret")), "E_IDENTITY_BAD_MAC")

    def test_time_window_edges(self):
        t = make_token(ts=NOW)
        for now, want in ((NOW - 6, "E_IDENTITY_NOT_YET_VALID"), (NOW - 5, "OK"),
                          (NOW, "OK"), (NOW + 3600, "OK"), (NOW + 3601, "E_IDENTITY_EXPIRED")):
            self.assertEqual(ref_verify(t, now=now), want, now)
            self.assertEqual(self.check(t, now), want, now)

    def test_random_mutations_agree_with_reference(self):
        rnd = random.Random(1793)
        base = make_token(claims=claims_of(b"\x04" * 65))
        alphabet = b":+-=_/0123456789AZaz" + "é".encode()
        for _ in range(1500):
            t = bytearray(base)
            for _ in range(rnd.randint(1, 3)):
                op, i = rnd.randint(0, 2), rnd.randrange(len(t))
                if op == 0:
                    t[i] = rnd.choice(alphabet)
                elif op == 1:
                    del t[i]
                else:
                    t.insert(i, rnd.choice(alphabet))
            t = bytes(t)
            now = NOW + rnd.choice((0, 0, -6, 3601))
            self.assertEqual(self.check(t, now), ref_verify(t, now=now), t)

    def test_cache(self):
        t = make_token()
        before = [int(x) for x in tool("stats")[1:]]
        for _ in range(5):
            self.assertEqual(self.check(t), "OK")
        after = [int(x) for x in tool("stats")[1:]]
        self.assertEqual(after[0] - before[0], 1)  # one HMAC
        self.assertEqual(after[1] - before[1], 4)  # four cache hits
        self.assertEqual(self.check(t, NOW + 3601), "E_IDENTITY_EXPIRED")
        self.assertEqual(self.check(t, NOW), "OK")  # verified again in full
        self.assertEqual(int(tool("stats")[1]) - after[0], 1)

    def test_pubkey_claims(self):
        p256 = ec.generate_private_key(ec.SECP256R1())
        edk = ed25519.Ed25519PrivateKey.generate()
        full, short = p256_point(p256), p256_point(p256, compressed=True)
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731

        def claims(obj):
            return b64url_nopad(json.dumps(obj).encode())

        ok = [
            (claims({"pubkey": b64(full)}), full),
            (claims({"pubkey": b64(short)}), full),  # handed back uncompressed
            (claims({"pubkey": b64(ed_raw(edk))}), ed_raw(edk)),
            (claims({"a": 1, "pubkey": b64(full), "b": [None, {"c": 1e300}]}), full),
            (b64url_nopad(b'{"pubkey":"%s","pubkey":"%s"}' % (b"AA==", b64(full).encode())),
             full),  # the last of two equal keys counts, as in serde_json
            (b64url_nopad(b'{"n":"\\u0000","pubkey":"%s"}' % b64(full).encode()), full),
            (b64url_nopad(b'{"big":123456789012345678901234567890,"pubkey":"%s"}'
                          % b64(full).encode()), full),
            (b64url_nopad(b' {"pub\\u006bey" : "%s"}\n' % b64(full).encode()), full),
        ]
        for c, want in ok:
            t = make_token(claims=c)
            r = tool("pubkey", NOW, t)
            self.assertEqual(r[0], "OK", base64.urlsafe_b64decode(c + b"==="))
            self.assertEqual(bytes.fromhex(r[1]), want)
        bad = [
            (b"", "E_IDENTITY_NO_PUBKEY"),
            (claims({}), "E_IDENTITY_NO_PUBKEY"),
            (claims([1, 2]), "E_IDENTITY_NO_PUBKEY"),
            (claims("pubkey"), "E_IDENTITY_NO_PUBKEY"),
            (claims({"pubkey": 5}), "E_IDENTITY_NO_PUBKEY"),
            (claims({"custom_claims": {"pubkey": b64(full)}}), "E_IDENTITY_NO_PUBKEY"),
            (claims({"PUBKEY": b64(full)}), "E_IDENTITY_NO_PUBKEY"),
            (claims({"pubkey": b64(full)}) + b"=", "E_IDENTITY_BAD_BASE64"),
            (b"/" + claims({"pubkey": b64(full)})[1:], "E_IDENTITY_BAD_BASE64"),
            (b64url_nopad(b'{"pubkey":'), "E_IDENTITY_BAD_CLAIMS"),
            (b64url_nopad(b'{"pubkey":"x"} trailing'), "E_IDENTITY_BAD_CLAIMS"),
            (b64url_nopad(b"\xff\xfe"), "E_IDENTITY_BAD_CLAIMS"),
            (b64url_nopad(b'{"pubkey":"\xff"}'), "E_IDENTITY_BAD_CLAIMS"),
            (b64url_nopad(b'{"pubkey":"\\ud800"}'), "E_IDENTITY_BAD_CLAIMS"),
            (b64url_nopad(b'{"x":1e400,"pubkey":"%s"}' % b64(full).encode()),
             "E_IDENTITY_BAD_CLAIMS"),
            # One known difference: jansson refuses a NUL inside an object
            # key, where serde_json takes it (docs/identity.md).
            (b64url_nopad(b'{"n\\u0000":1,"pubkey":"%s"}' % b64(full).encode()),
             "E_IDENTITY_BAD_CLAIMS"),
            (claims({"pubkey": b64(full).rstrip("=")}), "E_IDENTITY_BAD_BASE64"),
            (claims({"pubkey": base64.urlsafe_b64encode(b"\xfb" * 65).decode()}),
             "E_IDENTITY_BAD_BASE64"),
            (claims({"pubkey": b64(full) + "=="}), "E_IDENTITY_BAD_BASE64"),
            (claims({"pubkey": " " + b64(full)}), "E_IDENTITY_BAD_BASE64"),
            (claims({"pubkey": ""}), "E_IDENTITY_BAD_PUBKEY"),
            (claims({"pubkey": b64(full[:64])}), "E_IDENTITY_BAD_PUBKEY"),
            (claims({"pubkey": b64(full + b"\x00")}), "E_IDENTITY_BAD_PUBKEY"),
            (claims({"pubkey": b64(b"\x04" + b"\x01" * 64)}), "E_IDENTITY_BAD_PUBKEY"),
            (claims({"pubkey": b64(b"\x06" + full[1:])}), "E_IDENTITY_BAD_PUBKEY"),
            (claims({"pubkey": b64(b"\x05" + short[1:])}), "E_IDENTITY_BAD_PUBKEY"),
            (claims({"pubkey": b64(b"\x02" + b"\xff" * 32)}), "E_IDENTITY_BAD_PUBKEY"),
        ]
        for c, want in bad:
            t = make_token(claims=c)
            self.assertEqual(self.check(t), "OK")
            self.assertEqual(status("pubkey", NOW, t), want, c)
            self.assertEqual(status("pubkey", NOW, t), want, c)  # the cached answer
        # the pubkey of a token that does not verify is never read
        self.assertEqual(status("pubkey", NOW, make_token(secret=b"x")), "E_IDENTITY_BAD_MAC")

    def test_upstream_token(self):
        m = pb.Message()
        m.ParseFromString(UPSTREAM_MSG)
        token = m.publish.header.identity.encode()
        self.assertEqual(ref_verify(token, now=UPSTREAM_TS), "OK")
        r = tool("check", UPSTREAM_TS, token)
        self.assertEqual(r[0], "OK")
        subject = bytes.fromhex(r[1])
        self.assertEqual(subject, b"agntcy/ns/alice_uOMDoOkl")
        self.assertEqual(status("check", UPSTREAM_TS + 3601, token), "E_IDENTITY_EXPIRED")
        # the source id upstream put on the message is the app id of the token's id
        src = m.publish.header.source.name.name_id
        self.assertEqual(tool("appid", subject)[1:], ["%016x" % src.id_0, "%016x" % src.id_1])
        self.assertEqual(app_id(subject), ("%016x" % src.id_0, "%016x" % src.id_1))
        pk = bytes.fromhex(tool("pubkey", UPSTREAM_TS, token)[1])
        self.assertEqual(len(pk), 65)


class AppId(unittest.TestCase):
    def test_against_xxhash(self):
        rnd = random.Random(7)
        for text in [b"", b"a", b"agntcy/ns/alice_uOMDoOkl", "é/ü_x".encode()] + \
                [bytes(rnd.randrange(256) for _ in range(rnd.randrange(300)))
                 for _ in range(50)]:
            self.assertEqual(tuple(tool("appid", text)[1:]), app_id(text), text)


class Aad(unittest.TestCase):
    def check(self, m):
        r = tool("aad", m.SerializeToString())
        self.assertEqual(r[0], "OK", m)
        self.assertEqual(bytes.fromhex(r[1]) if r[1] != "-" else b"", expected_aad(m), m)

    def test_headers(self):
        weird = pb.Name()
        weird.ParseFromString(name("alice", (5, 0)).SerializeToString() +
                              b"\x98\x06\x01")  # field 99 = 1, unknown to the schema
        inner = pb.EncodedName()
        inner.ParseFromString(name("bob").name.SerializeToString() + b"\xa2\x06\x02hi")
        weird_dst = name("bob")
        weird_dst.name.CopyFrom(inner)
        cases = [
            publish(),
            publish(identity=make_token().decode()),
            publish(mtype=1, payload_type="msg", identity="t"),
            publish(mtype=4, payload_type="", identity="t"),
            publish(mtype=2, payload_type="custom/type é"),
            publish(src=name("alice", strings=False), dst=name("bob", with_id=False)),
            publish(src=name("alice", (0, 0)), dst=name("bob", (0, 2**64 - 1))),
            publish(stype=7, mtype=99),
            publish(stype=2, mtype=20, session_id=2**32 - 1, message_id=0),
            publish(src=weird, dst=weird_dst),
            publish(src=pb.Name(), dst=pb.Name()),
        ]
        m = publish(mtype=3)
        m.publish.ClearField("msg")
        cases.append(m)
        m = publish(mtype=6)
        m.publish.msg.SetInParent()  # content with nothing set
        cases.append(m)
        for m in cases:
            self.check(m)

    def test_refused(self):
        m = pb.Message()
        m.subscribe.header.source.CopyFrom(name("alice"))
        self.assertEqual(status("aad", m.SerializeToString()), "E_INVALID_ARG")
        for field in ("session",):
            m = publish()
            m.publish.ClearField(field)
            self.assertEqual(status("aad", m.SerializeToString()), "E_WIRE_MISSING_FIELD")
        for field in ("source", "destination"):
            m = publish()
            m.publish.header.ClearField(field)
            self.assertEqual(status("aad", m.SerializeToString()), "E_WIRE_MISSING_FIELD")

    def test_upstream_message(self):
        m = pb.Message()
        m.ParseFromString(UPSTREAM_MSG)
        self.check(m)


class Signatures(unittest.TestCase):
    def verify(self, pk, data, sig):
        return status("verifysig", pk, data, sig)

    def test_p256(self):
        key = ec.generate_private_key(ec.SECP256R1())
        data = b"header aad bytes"
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        for pk in (p256_point(key), p256_point(key, compressed=True)):
            self.assertEqual(self.verify(pk, data, sig), "OK")
            self.assertEqual(self.verify(pk, data + b"!", sig), "E_IDENTITY_BAD_SIGNATURE")
        r, s = decode_dss_signature(sig)
        high_s = encode_dss_signature(r, P256_N - s)  # also valid ECDSA (no low-S rule)
        self.assertEqual(self.verify(p256_point(key), data, high_s), "OK")
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        self.assertEqual(self.verify(p256_point(key), data, raw), "E_IDENTITY_BAD_SIGNATURE")
        self.assertEqual(self.verify(p256_point(key), data, sig + b"\x00"),
                         "E_IDENTITY_BAD_SIGNATURE")
        self.assertEqual(self.verify(p256_point(key), data, b""), "E_IDENTITY_BAD_SIGNATURE")
        other = ec.generate_private_key(ec.SECP256R1())
        self.assertEqual(self.verify(p256_point(other), data, sig), "E_IDENTITY_BAD_SIGNATURE")

    def test_ed25519(self):
        key = ed25519.Ed25519PrivateKey.generate()
        data = os.urandom(300)
        sig = key.sign(data)
        self.assertEqual(self.verify(ed_raw(key), data, sig), "OK")
        self.assertEqual(self.verify(ed_raw(key), data[1:], sig), "E_IDENTITY_BAD_SIGNATURE")
        self.assertEqual(self.verify(ed_raw(key), data, sig[:63]), "E_IDENTITY_BAD_SIGNATURE")

    def test_bad_keys(self):
        key = ec.generate_private_key(ec.SECP256R1())
        sig = key.sign(b"x", ec.ECDSA(hashes.SHA256()))
        full = p256_point(key)
        for pk in (b"", b"\x04", full[:31], full[:34], full[:64], full + b"\x00",
                   b"\x04" + b"\x01" * 64, b"\x06" + full[1:], b"\x07" + full[1:],
                   b"\x05" + full[1:33], b"\x00" * 33):
            self.assertEqual(self.verify(pk, b"x", sig), "E_IDENTITY_BAD_PUBKEY", pk)


class Messages(unittest.TestCase):
    def setUp(self):
        r = tool("new", b"agntcy/ns/alice", SECRET, 0)
        self.pk = bytes.fromhex(r[4])
        self.assertEqual(status("verifier", SECRET), "OK")

    def test_stamped_by_us_verified_in_python(self):
        for mtype in (5, 7, 17, 20):
            m = publish(mtype=mtype)
            r = tool("stamp", NOW, m.SerializeToString())
            self.assertEqual(r[0], "OK")
            out = pb.Message()
            out.ParseFromString(bytes.fromhex(r[1]))
            h = out.publish.header
            token = h.identity.encode()
            self.assertEqual(ref_verify(token), "OK")
            claims = json.loads(base64.urlsafe_b64decode(token.split(b":")[3] + b"==="))
            self.assertEqual(base64.b64decode(claims["pubkey"]), self.pk)
            self.assertTrue(h.HasField("e2e_header_sig"))
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.pk)
            key.verify(h.e2e_header_sig, expected_aad(out), ec.ECDSA(hashes.SHA256()))
            self.assertEqual(status("checkmsg", NOW, 1, out.SerializeToString()), "OK")
        for mtype in (1, 2, 3, 4):
            m = publish(mtype=mtype, payload_type="msg")
            out = pb.Message()
            out.ParseFromString(bytes.fromhex(tool("stamp", NOW, m.SerializeToString())[1]))
            self.assertEqual(ref_verify(out.publish.header.identity.encode()), "OK")
            self.assertFalse(out.publish.header.HasField("e2e_header_sig"))

    def signed(self, mtype=5, key=None, secret=SECRET, **kw):
        """A command message signed in Python as upstream signs it."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        if isinstance(key, ed25519.Ed25519PrivateKey):
            pk = ed_raw(key)
        else:
            pk = p256_point(key)
        m = publish(mtype=mtype, identity=make_token(claims=claims_of(pk),
                                                     secret=secret).decode(), **kw)
        aad = expected_aad(m)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            sig = key.sign(aad)
        else:
            sig = key.sign(aad, ec.ECDSA(hashes.SHA256()))
        m.publish.header.e2e_header_sig = sig
        return m

    def checkmsg(self, m, need_sig=1, now=NOW):
        return status("checkmsg", now, need_sig, m.SerializeToString())

    def test_signed_in_python_verified_by_us(self):
        for key in (ec.generate_private_key(ec.SECP256R1()),
                    ed25519.Ed25519PrivateKey.generate()):
            m = self.signed(key=key)
            self.assertEqual(self.checkmsg(m), "OK")
            self.assertEqual(self.checkmsg(m, now=NOW + 3601), "E_IDENTITY_EXPIRED")
        m = self.signed(mtype=8, src=name("alice", strings=False))
        self.assertEqual(self.checkmsg(m), "OK")

    def test_tampered_headers(self):
        edits = {
            "message id": lambda p: setattr(p.session, "message_id", 1),
            "session id": lambda p: setattr(p.session, "session_id", 1),
            "session type": lambda p: setattr(p.session, "session_type", 2),
            "message type": lambda p: setattr(p.session, "session_message_type", 6),
            "source text": lambda p: setattr(p.header.source.str_name, "str_component_2", "eve"),
            "source id": lambda p: setattr(p.header.source.name.name_id, "id_1", 3),
            "destination": lambda p: setattr(p.header.destination.name, "component_2", 1),
            "destination text dropped": lambda p: p.header.destination.ClearField("str_name"),
        }
        for what, edit in edits.items():
            m = self.signed()
            edit(m.publish)
            self.assertEqual(self.checkmsg(m), "E_IDENTITY_BAD_SIGNATURE", what)
        # fields outside the AAD may change
        m = self.signed()
        m.publish.header.fanout = 256
        m.publish.header.ttl = 3
        m.publish.msg.command_payload.join_request.SetInParent()
        self.assertEqual(self.checkmsg(m), "OK")
        # another valid token (another key) in place of the signer's
        m = self.signed()
        m.publish.header.identity = make_token(claims=claims_of(
            p256_point(ec.generate_private_key(ec.SECP256R1())))).decode()
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_BAD_SIGNATURE")
        m = self.signed()
        m.publish.header.e2e_header_sig = m.publish.header.e2e_header_sig[:-1]
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_BAD_SIGNATURE")
        m = self.signed()
        m.publish.header.e2e_header_sig = b""
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_BAD_SIGNATURE")
        m = self.signed()
        m.publish.header.ClearField("e2e_header_sig")
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_NO_SIGNATURE")
        self.assertEqual(self.checkmsg(m, need_sig=0), "OK")
        m = self.signed(secret=b"not our secret")
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_BAD_MAC")
        m = publish(mtype=1, payload_type="msg", identity=make_token().decode())
        self.assertEqual(self.checkmsg(m), "OK")  # data messages carry no signature
        m = publish(identity=make_token().decode())  # no pubkey, no signature
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_NO_SIGNATURE")
        m.publish.header.e2e_header_sig = b"0"
        self.assertEqual(self.checkmsg(m), "E_IDENTITY_NO_PUBKEY")

    def test_upstream_message(self):
        m = pb.Message()
        m.ParseFromString(UPSTREAM_MSG)
        self.assertEqual(self.checkmsg(m, now=UPSTREAM_TS), "OK")
        self.assertEqual(self.checkmsg(m, now=UPSTREAM_TS + 100), "OK")
        m.publish.session.message_id += 1
        self.assertEqual(self.checkmsg(m, now=UPSTREAM_TS), "E_IDENTITY_BAD_SIGNATURE")
        self.assertEqual(status("verifier", b"another secret of more than 32 bytes"), "OK")
        m.ParseFromString(UPSTREAM_MSG)
        self.assertEqual(self.checkmsg(m, now=UPSTREAM_TS), "E_IDENTITY_BAD_MAC")


if __name__ == "__main__":
    TOOL_P = Tool()
    try:
        unittest.main(verbosity=2)
    finally:
        TOOL_P.close()
