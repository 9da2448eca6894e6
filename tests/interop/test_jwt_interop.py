"""Interop test of src/session/jwt (JWT keys, tokens, verification) against
code we did not write.

Usage: test_jwt_interop.py JWT_TOOL (test_jwt_autoresolve.py imports the
helpers below)

Python makes the keys (python3-cryptography), writes them as PEM, JWK and
JWKS, and signs tokens with its own JOSE code below (hmac/hashlib for HS*,
cryptography for RS*, PS* with a salt as long as the hash, ES* converted
from DER to R || S, Ed25519); our verifier, driven through jwt_tool, must
accept them and refuse tampered ones with the named status. Tokens our
provider signs must verify here, with the claims upstream's SignerJwt
writes (iss, sub, aud array, exp, iat, nbf, pubkey) and kid = sub.
"""
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import unittest

TOOL = None  # set by main, or by the importer

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: E402
    decode_dss_signature, encode_dss_signature)
from cryptography.x509.oid import NameOID  # noqa: E402
import datetime  # noqa: E402

NOW = 1_800_000_000
ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "EdDSA"]
HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
HMAC_SECRET = b"python's HMAC secret for JWT interop tests, 64 bytes long......"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def int_b64u(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, "big"))


class Keys:
    """One key per algorithm family, made once."""

    rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()

    @classmethod
    def private(cls, alg):
        if alg.startswith("HS"):
            return HMAC_SECRET
        if alg[0] in "RP":
            return cls.rsa
        if alg == "ES256":
            return cls.p256
        if alg == "ES384":
            return cls.p384
        return cls.ed


def pem(alg, private, key=None):
    k = key or Keys.private(alg)
    if alg.startswith("HS"):
        return k.decode()
    if private:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode()
    return k.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def jwk(alg, private, key=None, kid=None, with_alg=True):
    k = key or Keys.private(alg)
    if alg.startswith("HS"):
        j = {"kty": "oct", "k": b64u(k)}
    elif alg[0] in "RP":
        pub = k.public_key().public_numbers()
        j = {"kty": "RSA", "n": int_b64u(pub.n), "e": int_b64u(pub.e)}
        if private:
            pn = k.private_numbers()
            j.update(d=int_b64u(pn.d), p=int_b64u(pn.p), q=int_b64u(pn.q),
                     dp=int_b64u(pn.dmp1), dq=int_b64u(pn.dmq1), qi=int_b64u(pn.iqmp))
    elif alg.startswith("ES"):
        size = 32 if alg == "ES256" else 48
        pub = k.public_key().public_numbers()
        j = {"kty": "EC", "crv": "P-256" if size == 32 else "P-384",
             "x": int_b64u(pub.x, size), "y": int_b64u(pub.y, size)}
        if private:
            j["d"] = int_b64u(k.private_numbers().private_value, size)
    else:
        raw = k.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
        j = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
        if private:
            j["d"] = b64u(k.private_bytes(serialization.Encoding.Raw,
                                          serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption()))
    if with_alg:
        j["alg"] = alg
    if kid:
        j["kid"] = kid
    return j


def sign(alg, key, data):
    h = HASH.get(alg[-3:])
    if alg.startswith("HS"):
        return hmac.new(key, data, getattr(hashlib, "sha" + alg[2:])).digest()
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), h())
    if alg.startswith("PS"):
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h()), salt_length=h.digest_size), h())
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h())))
        n = 32 if alg == "ES256" else 48
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")
    return key.sign(data)


def verify(alg, key, data, sig):
    """Raises when sig is not alg's signature of data under key's public half."""
    h = HASH.get(alg[-3:])
    if alg.startswith("HS"):
        if not hmac.compare_digest(sig, sign(alg, key, data)):
            raise ValueError("bad HMAC")
        return
    pub = key.public_key()
    if alg.startswith("RS"):
        pub.verify(sig, data, padding.PKCS1v15(), h())
    elif alg.startswith("PS"):
        pub.verify(sig, data, padding.PSS(mgf=padding.MGF1(h()), salt_length=h.digest_size), h())
    elif alg.startswith("ES"):
        n = 32 if alg == "ES256" else 48
        if len(sig) != 2 * n:
            raise ValueError("ES signature length")
        der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
        pub.verify(der, data, ec.ECDSA(h()))
    else:
        pub.verify(sig, data)


def make_token(alg, claims, key=None, header=None, sign_alg=None):
    hdr = header if header is not None else {"alg": alg, "typ": "JWT"}
    head = b64u(json.dumps(hdr, separators=(",", ":")).encode())
    body = b64u(json.dumps(claims, separators=(",", ":")).encode())
    data = (head + "." + body).encode()
    sig = sign(sign_alg or alg, key if key is not None else Keys.private(sign_alg or alg), data)
    return head + "." + body + "." + b64u(sig)


def claims(**kw):
    c = {"iss": "https://issuer.test", "sub": "agntcy/ns/alice", "aud": ["svc-b"],
         "exp": NOW + 600, "iat": NOW, "nbf": NOW}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


class W(str):
    """A word passed as it is (a command, an algorithm, a format)."""


class Tool:
    """One jwt_tool process, one command per line: the first argument and
    W(...) words go as they are, ints in decimal, the rest in hex."""

    def __init__(self, tool=None):
        self.p = subprocess.Popen([tool or TOOL], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

    def __call__(self, cmd, *args):
        def enc(a):
            if isinstance(a, W):
                return str(a)
            if isinstance(a, int):
                return str(a)
            if isinstance(a, dict):
                a = json.dumps(a)
            if isinstance(a, str):
                a = a.encode()
            return a.hex() or "-"
        self.p.stdin.write(" ".join([cmd] + [enc(a) for a in args]) + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().split()

    def close(self):
        self.p.stdin.close()
        self.p.stdout.close()
        if self.p.wait(timeout=30) != 0:
            raise AssertionError("jwt_tool exited with %d" % self.p.returncode)


VERIFY_CFG = {"iss": "https://issuer.test", "aud": ["svc-b"], "sub": "agntcy/ns/alice",
              "require_iss": True, "require_aud": True, "require_sub": True}


class PythonTokensOurVerifier(unittest.TestCase):
    def setUp(self):
        self.t = Tool()

    def tearDown(self):
        self.t.close()

    def verifier(self, alg, fmt, key_text, **extra):
        cfg = dict(VERIFY_CFG, alg=alg, format=fmt, key=key_text)
        cfg.update(extra)
        self.assertEqual(self.t("verifier", cfg), ["OK"])

    def check(self, token, now=NOW):
        return self.t("check", now, token)

    def test_every_algorithm_every_format(self):
        for alg in ALGS:
            pub_jwk = jwk(alg, False, kid="k1")
            other = "ES256" if alg == "EdDSA" else "EdDSA"
            jwks = {"keys": [jwk(other, False, kid="other"), pub_jwk]}
            for fmt, text in [("pem", pem(alg, False)), ("jwk", json.dumps(pub_jwk)),
                              ("jwks", json.dumps(jwks))]:
                with self.subTest(alg=alg, fmt=fmt):
                    self.verifier(alg if fmt != "jwks" else "", fmt, text)
                    tok = make_token(alg, claims(), header={"alg": alg, "typ": "JWT",
                                                            "kid": "k1"})
                    got = self.check(tok)
                    self.assertEqual(got[0], "OK", got)
                    self.assertEqual(bytes.fromhex(got[1]), b"https://issuer.test")
                    self.assertEqual(bytes.fromhex(got[2]), b"agntcy/ns/alice")
                    self.assertEqual(int(got[3]), NOW + 600)
                    # the signature of other claims
                    h, b, s = tok.split(".")
                    forged = h + "." + b64u(json.dumps(claims(sub="agntcy/ns/eve")).encode()) \
                        + "." + s
                    self.assertEqual(self.check(forged), ["E_JWT_BAD_SIGNATURE"])
                    # a signature bit flipped
                    sig = bytearray(unb64u(s))
                    sig[len(sig) // 2] ^= 1
                    self.assertEqual(self.check(h + "." + b + "." + b64u(bytes(sig))),
                                     ["E_JWT_BAD_SIGNATURE"])

    def test_refusals(self):
        self.verifier("ES256", "pem", pem("ES256", False))
        cases = [
            (make_token("ES256", claims(exp=NOW - 61)), "E_JWT_EXPIRED"),
            (make_token("ES256", claims(exp=NOW - 60)), "OK"),
            (make_token("ES256", claims(nbf=NOW + 61)), "E_JWT_NOT_YET_VALID"),
            (make_token("ES256", claims(iat=NOW + 61)), "E_JWT_NOT_YET_VALID"),
            (make_token("ES256", claims(aud=["svc-x"])), "E_JWT_AUDIENCE"),
            (make_token("ES256", claims(aud="svc-b")), "OK"),
            (make_token("ES256", claims(iss="https://evil.test")), "E_JWT_ISSUER"),
            (make_token("ES256", claims(sub="agntcy/ns/eve")), "E_JWT_SUBJECT"),
            (make_token("ES256", claims(sub=None)), "E_JWT_MISSING_CLAIM"),
            (make_token("ES256", claims(exp=None)), "E_JWT_MISSING_CLAIM"),
            (make_token("ES256", claims(exp="soon")), "E_JWT_BAD_CLAIM"),
            # another key of the same type
            (make_token("ES256", claims(), key=ec.generate_private_key(ec.SECP256R1())),
             "E_JWT_BAD_SIGNATURE"),
            # a token made for another algorithm
            (make_token("ES384", claims()), "E_JWT_WRONG_ALG"),
            (make_token("HS256", claims()), "E_JWT_WRONG_ALG"),
        ]
        # alg none: an unsigned token
        none = b64u(b'{"alg":"none","typ":"JWT"}') + "." + \
            b64u(json.dumps(claims()).encode()) + "."
        cases.append((none, "E_JWT_MALFORMED"))
        cases.append((none + "AAAA", "E_JWT_BAD_ALG"))
        # malformed
        good = make_token("ES256", claims())
        h, b, s = good.split(".")
        cases += [
            (h + "." + b, "E_JWT_MALFORMED"),
            (good + ".x", "E_JWT_MALFORMED"),
            (h + "=." + b + "." + s, "E_JWT_BAD_BASE64"),
            (base64.b64encode(b'{"alg":"ES256"}').decode().rstrip("=") + "+." + b + "." + s,
             "E_JWT_BAD_BASE64"),
            (h + "." + b64u(b"{not json") + "." + s, "E_JWT_BAD_JSON"),
            (b64u(b'["ES256"]') + "." + b + "." + s, "E_JWT_BAD_JSON"),
        ]
        for tok, want in cases:
            with self.subTest(token=tok[:60], want=want):
                self.assertEqual(self.check(tok)[0], want)

    def test_algorithm_confusion(self):
        # HS256 keyed with the RSA public key's PEM: refused by an RS256
        # verifier holding that PEM (never used as an HMAC secret)
        pub = pem("RS256", False)
        self.verifier("RS256", "pem", pub)
        tok = make_token("HS256", claims(), key=pub.encode())
        self.assertEqual(self.check(tok), ["E_JWT_WRONG_ALG"])
        # RS256 and PS256 share a key type, not an algorithm
        self.assertEqual(self.check(make_token("PS256", claims()))[0], "E_JWT_WRONG_ALG")
        self.assertEqual(self.check(make_token("RS256", claims()))[0], "OK")

    def test_pem_variants(self):
        rsa_pkcs1 = Keys.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
        rsa_trad = Keys.rsa.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()).decode()
        ec_trad = Keys.p256.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()).decode()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwt test")])
        t0 = datetime.datetime(2020, 1, 1)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(Keys.p384.public_key()).serial_number(7)
                .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=9000))
                .sign(Keys.p384, hashes.SHA384()))
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        for alg, text in [("RS512", rsa_pkcs1), ("PS384", rsa_trad), ("ES256", ec_trad),
                          ("ES384", cert_pem)]:
            with self.subTest(alg=alg):
                self.verifier(alg, "pem", text)
                self.assertEqual(self.check(make_token(alg, claims()))[0], "OK")
        # traditional private keys sign too
        for alg, text in [("RS256", rsa_trad), ("ES256", ec_trad)]:
            with self.subTest(signing=alg):
                self.assertEqual(self.t("keys", W(alg), W("pem"), text, W("1")), ["OK", "1"])
        # an encrypted private key is refused, not prompted for
        enc = Keys.p256.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"pw")).decode()
        self.assertEqual(self.t("keys", W("ES256"), W("pem"), enc, W("1")), ["E_JWT_BAD_KEY"])
        # key types that do not fit
        self.assertEqual(self.t("keys", W("ES256"), W("pem"), rsa_pkcs1, W("0")), ["E_JWT_KEY_MISMATCH"])
        self.assertEqual(self.t("keys", W("ES256"), W("pem"), pem("ES384", False), W("0")),
                         ["E_JWT_KEY_MISMATCH"])
        self.assertEqual(self.t("keys", W("EdDSA"), W("jwk"), json.dumps(jwk("ES256", False)), W("0")),
                         ["E_JWT_KEY_MISMATCH"])
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.assertEqual(self.t("keys", W("RS256"), W("pem"), pem("RS256", False, small), W("0")),
                         ["E_JWT_BAD_KEY"])

    def test_jwks_kid_choice(self):
        keys = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("a", "b", "c")}
        jwks = {"keys": [jwk("ES256", False, key=k, kid=n) for n, k in keys.items()]}
        self.verifier("", "jwks", json.dumps(jwks))
        for n, k in keys.items():
            for hdr in ({"alg": "ES256", "kid": n}, {"alg": "ES256"}):
                with self.subTest(kid=n, header=hdr):
                    self.assertEqual(self.check(make_token("ES256", claims(), key=k,
                                                           header=hdr))[0], "OK")
        # a kid that names another key than the one that signed
        tok = make_token("ES256", claims(), key=keys["a"], header={"alg": "ES256", "kid": "b"})
        self.assertEqual(self.check(tok), ["E_JWT_BAD_SIGNATURE"])
        # no key of that algorithm
        self.assertEqual(self.check(make_token("ES384", claims())), ["E_JWT_NO_KEY"])


class OurTokensPythonVerifies(unittest.TestCase):
    def setUp(self):
        self.t = Tool()

    def tearDown(self):
        self.t.close()

    def test_every_algorithm(self):
        for alg in ALGS:
            for fmt in ("pem", "jwk"):
                with self.subTest(alg=alg, fmt=fmt):
                    text = pem(alg, True) if fmt == "pem" else json.dumps(jwk(alg, True))
                    got = self.t("provider", {"alg": alg, "format": fmt, "key": text,
                                              "duration": 900, "iss": "https://issuer.test",
                                              "sub": "agntcy/ns/alice",
                                              "aud": ["svc-b", "svc-c"],
                                              "extra": {"role": "moderator"}})
                    self.assertEqual(got[0], "OK", got)
                    mls_pub = bytes.fromhex(got[1])
                    self.assertEqual(len(mls_pub), 65)
                    tok = bytes.fromhex(self.t("token", NOW)[1]).decode()
                    h, b, s = tok.split(".")
                    verify(alg, Keys.private(alg), (h + "." + b).encode(), unb64u(s))
                    header = json.loads(unb64u(h))
                    self.assertEqual(header, {"alg": alg, "typ": "JWT",
                                              "kid": "agntcy/ns/alice"})
                    body = json.loads(unb64u(b))
                    self.assertEqual(body, {
                        "iss": "https://issuer.test", "sub": "agntcy/ns/alice",
                        "aud": ["svc-b", "svc-c"], "exp": NOW + 900, "iat": NOW, "nbf": NOW,
                        "role": "moderator", "pubkey": base64.b64encode(mls_pub).decode()})
                    # strict base64url, no padding anywhere
                    self.assertNotIn("=", tok)
                    # reused until half the duration, then renewed
                    self.assertEqual(bytes.fromhex(self.t("token", NOW + 449)[1]).decode(), tok)
                    self.assertNotEqual(bytes.fromhex(self.t("token", NOW + 450)[1]).decode(),
                                        tok)

    def test_jwk_kid_and_no_pubkey(self):
        self.assertEqual(self.t("provider", {"alg": "ES384", "format": "jwk",
                                             "key": json.dumps(jwk("ES384", True, kid="key-1")),
                                             "no_pubkey": True})[0], "OK")
        tok = bytes.fromhex(self.t("token", NOW)[1]).decode()
        h, b, s = tok.split(".")
        verify("ES384", Keys.p384, (h + "." + b).encode(), unb64u(s))
        self.assertEqual(json.loads(unb64u(h)), {"alg": "ES384", "typ": "JWT", "kid": "key-1"})
        self.assertEqual(json.loads(unb64u(b)), {"exp": NOW + 3600, "iat": NOW, "nbf": NOW})

    def test_round_trip_with_pubkey_claim(self):
        self.t("provider", {"alg": "PS256", "format": "pem", "key": pem("PS256", True),
                            "sub": "svc"})
        tok = self.t("token", NOW)[1]
        self.assertEqual(self.t("verifier", {"alg": "PS256", "format": "jwk",
                                             "key": json.dumps(jwk("PS256", False))}), ["OK"])
        got = self.t("pubkey", NOW, bytes.fromhex(tok))
        self.assertEqual(got[0], "OK")
        body = json.loads(unb64u(bytes.fromhex(tok).decode().split(".")[1]))
        self.assertEqual(base64.b64decode(body["pubkey"]), bytes.fromhex(got[1]))

    def test_static_token(self):
        tok = make_token("HS256", claims(sub="svc-static"))
        got = self.t("static", "\n" + tok + "\n")
        self.assertEqual(got, ["OK", b"svc-static".hex(), str(NOW + 600)])
        self.assertEqual(bytes.fromhex(self.t("token", NOW)[1]).decode(), tok)


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    unittest.main()
