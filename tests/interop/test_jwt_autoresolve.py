"""Test of JWKS auto-resolution (src/client/jwks_fetch) against a local
HTTPS server.

Usage: test_jwt_autoresolve.py JWT_TOOL INTEROP_DIR

The test makes a CA and a server certificate for 127.0.0.1 with
python3-cryptography, starts Python's http.server behind ssl with it, and
serves /.well-known/openid-configuration and a JWKS (python-made keys,
tokens signed in Python as in test_jwt_interop.py). Our verifier, trusting
that CA through ca_file, must discover and fetch the keys, verify tokens,
fall back to /.well-known/jwks.json, refuse what upstream refuses (another
issuer in the document, a jwks_uri of another origin, http), keep keys
for their refresh period, rate-limit fetches, cap sizes and refuse an
untrusted certificate.
"""
import datetime
import http.server
import ipaddress
import json
import os
import ssl
import sys
import tempfile
import threading
import unittest

TOOL = sys.argv.pop(1)
sys.path.insert(0, sys.argv.pop(1))

import test_jwt_interop as jt  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

NOW = jt.NOW


def make_certs(directory):
    """A CA, and a certificate it signs for 127.0.0.1 and localhost."""
    t0 = datetime.datetime.utcnow() - datetime.timedelta(days=1)
    t1 = t0 + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slim jwt test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(t0).not_valid_after(t1)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(t0).not_valid_after(t1)
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {n: os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class Server:
    """An HTTPS server answering GETs from a table: path -> (status, body)."""

    def __init__(self, certs):
        self.routes = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                status, body = server.routes.get(self.path, (404, b"not found"))
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["server.pem"], certs["server.key"])
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Autoresolve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.certs = make_certs(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def setUp(self):
        self.server = Server(self.certs)
        self.url = self.server.url
        self.key1 = ec.generate_private_key(ec.SECP256R1())
        self.key2 = ec.generate_private_key(ec.SECP256R1())
        self.t = jt.Tool(TOOL)

    def tearDown(self):
        self.t.close()
        self.server.close()

    def jwks(self, *pairs):
        return {"keys": [jt.jwk("ES256", False, key=k, kid=kid) for kid, k in pairs]}

    def discovery(self, issuer=None, jwks_uri=None):
        self.server.routes["/.well-known/openid-configuration"] = (200, {
            "issuer": issuer or self.url, "jwks_uri": jwks_uri or self.url + "/keys"})

    def verifier(self, **cfg):
        c = {"autoresolve": True, "ca_file": self.certs["ca.pem"]}
        c.update(cfg)
        self.assertEqual(self.t("verifier", c), ["OK"])

    def token(self, key, kid="k1", iss=None, **claims):
        c = jt.claims(iss=iss or self.url, aud=None, **claims)
        return jt.make_token("ES256", c, key=key, header={"alg": "ES256", "kid": kid})

    def resolve(self, token, now=NOW):
        return self.t("resolve", now, token)

    def stats(self):
        got = self.t("stats")
        self.assertEqual(got[0], "OK")
        return dict(zip(("signatures", "hits", "requests", "fetches", "failures"),
                        map(int, got[1:])))

    def test_discovery_then_cached_keys(self):
        self.discovery()
        self.server.routes["/keys"] = (200, self.jwks(("k1", self.key1)))
        self.verifier(iss=self.url)
        got = self.resolve(self.token(self.key1))
        self.assertEqual(got[0], "OK", got)
        self.assertEqual(bytes.fromhex(got[1]).decode(), self.url)
        self.assertEqual(self.server.requests, ["/.well-known/openid-configuration", "/keys"])
        # another token of that issuer: the keys are kept, no request
        bob = self.token(self.key1, sub="agntcy/ns/bob")
        got = self.resolve(bob, NOW + 10)
        self.assertEqual(got[0], "OK", got)
        self.assertEqual(len(self.server.requests), 2)
        # the same token again: from the verifier's cache, no signature
        before = self.stats()
        self.assertEqual(self.resolve(bob, NOW + 11)[0], "OK")
        after = self.stats()
        self.assertEqual(after["signatures"], before["signatures"])
        self.assertEqual(after["hits"], before["hits"] + 1)
        self.assertEqual(after["fetches"], 1)
        # a token signed by a key the issuer does not publish
        forged = self.token(self.key2, kid="k1")
        self.assertEqual(self.resolve(forged, NOW + 12)[0], "E_JWT_BAD_SIGNATURE")

    def test_fallback_to_jwks_json(self):
        self.server.routes["/.well-known/jwks.json"] = (200, self.jwks(("k1", self.key1)))
        self.verifier()
        self.assertEqual(self.resolve(self.token(self.key1))[0], "OK")
        self.assertEqual(self.server.requests,
                         ["/.well-known/openid-configuration", "/.well-known/jwks.json"])
        # an openid-configuration that is not JSON, or names no jwks_uri
        for doc in (b"<html>hello</html>", {"issuer": self.url}):
            with self.subTest(doc=doc):
                self.server.requests.clear()
                self.server.routes["/.well-known/openid-configuration"] = (200, doc)
                self.verifier()
                self.assertEqual(self.resolve(self.token(self.key1))[0], "OK")
                self.assertEqual(self.server.requests[-1], "/.well-known/jwks.json")

    def test_issuer_with_a_path(self):
        issuer = self.url + "/realms/r1/"
        self.server.routes["/realms/r1/.well-known/openid-configuration"] = (200, {
            "issuer": self.url + "/realms/r1", "jwks_uri": self.url + "/realms/r1/certs"})
        self.server.routes["/realms/r1/certs"] = (200, self.jwks(("k1", self.key1)))
        self.verifier()
        got = self.resolve(self.token(self.key1, iss=issuer))
        self.assertEqual(got[0], "OK", got)
        self.assertEqual(self.server.requests, ["/realms/r1/.well-known/openid-configuration",
                                                "/realms/r1/certs"])

    def test_discovery_refusals(self):
        other = Server(self.certs)
        try:
            other.routes["/keys"] = (200, self.jwks(("k1", self.key1)))
            cases = [({"issuer": "https://other.test", "jwks_uri": self.url + "/keys"},
                      "E_JWT_DISCOVERY"),
                     ({"issuer": self.url, "jwks_uri": other.url + "/keys"}, "E_JWT_DISCOVERY")]
            self.server.routes["/keys"] = (200, self.jwks(("k1", self.key1)))
            for doc, want in cases:
                with self.subTest(doc=doc):
                    self.server.routes["/.well-known/openid-configuration"] = (200, doc)
                    self.verifier()
                    got = self.resolve(self.token(self.key1))
                    self.assertEqual(got[0], want, got)
            self.assertEqual(other.requests, [])  # never asked
        finally:
            other.close()
        # plain http is not fetched from
        self.verifier()
        tok = self.token(self.key1, iss="http://127.0.0.1:1")
        self.assertEqual(self.resolve(tok)[0], "E_JWT_DISCOVERY")

    def test_issuer_gate(self):
        self.discovery()
        self.server.routes["/keys"] = (200, self.jwks(("k1", self.key1)))
        self.verifier(iss=self.url)
        self.assertEqual(self.resolve(self.token(self.key1, iss="https://127.0.0.1:9"))[0],
                         "E_JWT_ISSUER")
        self.assertEqual(self.resolve(jt.make_token("ES256", {"exp": NOW + 9}, key=self.key1))[0],
                         "E_JWT_MISSING_CLAIM")
        self.assertEqual(self.server.requests, [])

    def test_untrusted_certificate(self):
        self.discovery()
        self.server.routes["/keys"] = (200, self.jwks(("k1", self.key1)))
        self.assertEqual(self.t("verifier", {"autoresolve": True}), ["OK"])  # the system's CAs
        got = self.resolve(self.token(self.key1))
        self.assertEqual(got[0], "E_JWT_FETCH", got)
        self.assertIn("certificate", bytes.fromhex(got[1]).decode().lower())
        self.assertEqual(self.server.requests, [])  # no request got through

    def test_size_cap(self):
        self.discovery()
        big = self.jwks(("k1", self.key1))
        big["padding"] = "x" * 5000
        self.server.routes["/keys"] = (200, big)
        self.verifier(max_bytes=2000)
        self.assertEqual(self.resolve(self.token(self.key1))[0], "E_TOO_LARGE")
        big.pop("padding")
        self.server.routes["/keys"] = (200, big)
        self.verifier(max_bytes=2000)
        self.assertEqual(self.resolve(self.token(self.key1))[0], "OK")

    def test_rotation_refresh_and_rate_limit(self):
        self.discovery()
        self.server.routes["/keys"] = (200, self.jwks(("k1", self.key1)))
        self.verifier(retry_s=30)
        self.assertEqual(self.resolve(self.token(self.key1))[0], "OK")
        self.assertEqual(len(self.server.requests), 2)
        # the issuer rotates to k2: within retry_s no new fetch
        self.server.routes["/keys"] = (200, self.jwks(("k1", self.key1), ("k2", self.key2)))
        t2 = self.token(self.key2, kid="k2")
        self.assertEqual(self.resolve(t2, NOW + 5)[0], "E_JWT_NO_KEY")  # k1 tried, no k2
        self.assertEqual(len(self.server.requests), 2)
        t3 = self.token(self.key2, kid="k2", sub="agntcy/ns/carol")
        jwks_only_k1 = jt.make_token("ES384", jt.claims(iss=self.url, aud=None))
        self.assertEqual(self.resolve(jwks_only_k1, NOW + 6)[0], "E_JWT_NO_KEY")
        self.assertEqual(len(self.server.requests), 2)
        # after retry_s: a token with no fitting key fetches again
        self.assertEqual(self.resolve(jwks_only_k1, NOW + 31)[0], "E_JWT_NO_KEY")
        self.assertEqual(len(self.server.requests), 4)
        self.assertEqual(self.resolve(t3, NOW + 32)[0], "OK")
        # after the refresh period (3600 s) keys are fetched again
        t4 = self.token(self.key1, sub="agntcy/ns/dave", exp=NOW + 7200)
        self.assertEqual(self.resolve(t4, NOW + 31 + 3600)[0], "OK")
        self.assertEqual(len(self.server.requests), 6)

    def test_failures_are_rate_limited(self):
        self.server.routes["/.well-known/jwks.json"] = (500, b"oops")
        self.verifier(retry_s=30)
        got = self.resolve(self.token(self.key1))
        self.assertEqual(got[0], "E_JWT_FETCH", got)
        self.assertIn("HTTP 500", bytes.fromhex(got[1]).decode())
        n = len(self.server.requests)
        self.assertEqual(self.resolve(self.token(self.key1), NOW + 1)[0], "E_JWT_FETCH")
        self.assertEqual(len(self.server.requests), n)
        self.server.routes["/.well-known/jwks.json"] = (200, self.jwks(("k1", self.key1)))
        self.assertEqual(self.resolve(self.token(self.key1), NOW + 31)[0], "OK")
        # a JWKS that is not one
        self.server.routes["/.well-known/jwks.json"] = (200, {"keys": 5})
        self.verifier()
        self.assertEqual(self.resolve(self.token(self.key1))[0], "E_JWT_BAD_KEY")

    def test_fetch_command(self):
        self.server.routes["/.well-known/jwks.json"] = (200, self.jwks(("k1", self.key1)))
        self.verifier()
        got = self.t("fetch", self.url)
        self.assertEqual(got[0], "OK")
        self.assertEqual(json.loads(bytes.fromhex(got[1]))["keys"][0]["kid"], "k1")
        self.assertEqual(self.t("fetch", "not a url")[0], "E_JWT_DISCOVERY")


if __name__ == "__main__":
    unittest.main()
