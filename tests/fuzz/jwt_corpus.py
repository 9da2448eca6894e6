"""Writes the seed corpora of fuzz_jwt and fuzz_jwk (tests/fuzz/corpus/).

Usage: /usr/bin/python3 tests/fuzz/jwt_corpus.py   (from the repository root)

Seeds follow the input layouts described at the top of fuzz_jwt.c and
fuzz_jwk.c. The RFC 7515 and RFC 8037 keys and tokens are those of the
RFCs' appendices; the other keys are made here with python3-cryptography,
so running this again writes new (equally good) seeds.
"""
import base64
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NOW = 1300819380
A1 = ("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQog"
      "Imh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
A3 = ("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
      "LmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlS"
      "ApmWQxfKTUJqPP3-Kg6NU1Q")
ED_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def jwt_seeds():
    write("fuzz_jwt", "rfc7515_a1", b"\x00" + A1.encode())
    write("fuzz_jwt", "rfc7515_a3", b"\x00" + A3.encode())
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(unb64u(ED_D))
    head = b64u(b'{"alg":"EdDSA","typ":"JWT","kid":"d"}')
    body = b64u(json.dumps({"iss": "https://idp.test", "sub": "agntcy/ns/alice",
                            "aud": ["svc"], "exp": NOW + 60, "iat": NOW, "nbf": NOW,
                            "pubkey": base64.b64encode(b"\x04" + b"\x01" * 64).decode()},
                           separators=(",", ":")).encode())
    sig = b64u(ed.sign((head + "." + body).encode()))
    write("fuzz_jwt", "eddsa_kid_d", b"\x00" + (head + "." + body + "." + sig).encode())
    write("fuzz_jwt", "five_segments", b"\x00a.b.c.d.e")
    pairs = {
        "signed_full": ({"alg": "HS256", "typ": "JWT", "kid": "h"},
                        {"iss": "https://idp.test", "sub": "alice", "aud": ["a", "b"],
                         "exp": NOW + 10, "iat": NOW, "nbf": NOW - 5, "role": "x"}),
        "signed_aud_string": ({"alg": "HS256"}, {"aud": "svc", "exp": NOW}),
        "signed_custom_pubkey": ({"alg": "HS256"},
                                 {"exp": NOW + 1, "custom_claims": {"pubkey": "AAAA"}}),
        "signed_real_exp": ({"alg": "HS256"}, {"exp": NOW + 0.5, "nbf": None}),
        "signed_crit": ({"alg": "HS256", "crit": ["b64"], "b64": False}, {"exp": NOW}),
        "signed_none": ({"alg": "none"}, {"exp": NOW}),
    }
    for name, (h, c) in pairs.items():
        write("fuzz_jwt", name, b"\x01" + json.dumps(h).encode() + b"\xff" + json.dumps(c).encode())
    write("fuzz_jwt", "signed_not_json", b"\x01{\"alg\":\"HS256\"}\xff{\"exp\":")
    write("fuzz_jwt", "static_padded", b"\x02\n  " + A1.encode() + b"\r\n")


def pem_pub(k):
    return k.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)


def pem_priv(k, fmt=serialization.PrivateFormat.PKCS8):
    return k.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def sel(alg_index, sign, fmt):
    """The selector byte of fuzz_jwk.c: ALGS[alg_index], PEM/JWK/JWKS = 0/1/2."""
    return bytes([10 * alg_index + 5 * sign + fmt])


def int_b64u(n, length=None):
    return b64u(n.to_bytes(length or (n.bit_length() + 7) // 8, "big"))


def jwk_seeds():
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    t0 = datetime.datetime(2020, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(p384.public_key()).serial_number(1).not_valid_before(t0)
            .not_valid_after(t0 + datetime.timedelta(days=3650)).sign(p384, hashes.SHA384()))
    # ALGS of fuzz_jwk.c: 0 none, 1 HS256, 2 RS256, 3 PS384, 4 ES256, 5 ES384, 6 EdDSA, 7 HS512
    pems = {
        "pem_hs256": sel(1, 1, 0) + b"a shared secret",
        "pem_rs256_public": sel(2, 0, 0) + pem_pub(r),
        "pem_rs256_pkcs1": sel(2, 0, 0) + r.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "pem_ps384_private": sel(3, 1, 0) + pem_priv(r, serialization.PrivateFormat.TraditionalOpenSSL),
        "pem_es256_public": sel(4, 0, 0) + pem_pub(p256),
        "pem_es256_sec1": sel(4, 1, 0) + pem_priv(p256, serialization.PrivateFormat.TraditionalOpenSSL),
        "pem_es384_cert": sel(5, 0, 0) + cert.public_bytes(serialization.Encoding.PEM),
        "pem_eddsa_private": sel(6, 1, 0) + pem_priv(ed),
    }
    for n, data in pems.items():
        write("fuzz_jwk", n, data)
    rn, rp = r.public_key().public_numbers(), r.private_numbers()
    jwks = {
        "oct": {"kty": "oct", "alg": "HS512", "kid": "h", "k": b64u(b"k" * 64)},
        "rsa": {"kty": "RSA", "kid": "r", "n": int_b64u(rn.n), "e": int_b64u(rn.e),
                "d": int_b64u(rp.d), "p": int_b64u(rp.p), "q": int_b64u(rp.q),
                "dp": int_b64u(rp.dmp1), "dq": int_b64u(rp.dmq1), "qi": int_b64u(rp.iqmp)},
        "ec256": {"kty": "EC", "crv": "P-256", "use": "sig", "kid": "e",
                  "x": int_b64u(p256.public_key().public_numbers().x, 32),
                  "y": int_b64u(p256.public_key().public_numbers().y, 32),
                  "d": int_b64u(p256.private_numbers().private_value, 32)},
        "ec384": {"kty": "EC", "crv": "P-384", "alg": "ES384",
                  "x": int_b64u(p384.public_key().public_numbers().x, 48),
                  "y": int_b64u(p384.public_key().public_numbers().y, 48)},
        "okp": {"kty": "OKP", "crv": "Ed25519", "kid": "d",
                "x": b64u(ed.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)),
                "d": b64u(ed.private_bytes(serialization.Encoding.Raw,
                                           serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption()))},
        "x25519": {"kty": "OKP", "crv": "X25519", "x": b64u(b"\x09" * 32)},
    }
    alg_of = {"oct": 7, "rsa": 2, "ec256": 4, "ec384": 5, "okp": 6, "x25519": 0}
    for n, j in jwks.items():
        write("fuzz_jwk", "jwk_" + n, sel(alg_of[n], 1, 1) + json.dumps(j).encode())
        write("fuzz_jwk", "jwk_" + n + "_noalg", sel(0, 0, 1) + json.dumps(j).encode())
    write("fuzz_jwk", "jwks_all", sel(0, 0, 2) + json.dumps({"keys": list(jwks.values())}).encode())
    write("fuzz_jwk", "jwks_signing", sel(4, 1, 2) + json.dumps({"keys": [jwks["ec256"]]}).encode())
    docs = {
        "oidc_ok": {"issuer": "https://idp.test/realm/", "jwks_uri": "https://idp.test/realm/certs",
                    "token_endpoint": "https://idp.test/realm/token"},
        "oidc_other_issuer": {"issuer": "https://evil.test", "jwks_uri": "https://idp.test/k"},
        "oidc_other_origin": {"jwks_uri": "https://idp.test:8443/k"},
        "oidc_no_jwks_uri": {"issuer": "https://idp.test/realm"},
    }
    for n, d in docs.items():
        write("fuzz_jwk", n, b"\x03" + json.dumps(d).encode())
    for n, u in {"url_path": "https://idp.test/realms/a//", "url_ipv6": "http://[::1]:8080/x",
                 "url_query": "https://idp.test/?a=b"}.items():
        write("fuzz_jwk", n, b"\x04" + u.encode())


if __name__ == "__main__":
    jwt_seeds()
    jwk_seeds()
