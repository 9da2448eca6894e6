"""The per-hop header MAC of SLIM data-plane links, computed from the layout
in docs/protocol.md ("Header MAC"; upstream's session-protocol §8.3) with
Python's hmac and hashlib, independently of the C code it checks. Works on
protobuf SLIMHeader objects from the generated stubs.
"""
import hashlib
import hmac
import struct

MAC_DOMAIN = b"SLIM-DP-HDR-v1\0"
MAC_HKDF_INFO = b"SLIM-DP-inter-node-hmac-v1"


def hkdf_sha256(salt, ikm, info, length=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def _lp(b):
    return struct.pack("<I", len(b)) + b


def _mac_name(h, field):
    if not h.HasField(field):
        return b"\0"
    n = getattr(h, field)
    out = b"\1"
    if n.HasField("name"):
        e = n.name
        out += b"\1" + struct.pack("<QQQ", e.component_0, e.component_1, e.component_2)
        if e.HasField("name_id"):
            out += b"\1" + struct.pack("<QQ", e.name_id.id_0, e.name_id.id_1)
        else:
            out += b"\0"
    else:
        out += b"\0"
    if n.HasField("str_name"):
        s = n.str_name
        out += b"\1" + b"".join(_lp(x.encode()) for x in
                                (s.str_component_0, s.str_component_1, s.str_component_2))
    else:
        out += b"\0"
    return out


def mac_input(link_id, h):
    """The bytes HMAC-SHA256 covers for SLIMHeader h on link link_id."""
    out = MAC_DOMAIN + _lp(link_id.encode())
    out += _mac_name(h, "source") + _mac_name(h, "destination")
    out += _lp(h.identity.encode()) + struct.pack("<I", h.fanout)
    for f in ("recv_from", "forward_to"):
        out += (b"\1" + struct.pack("<Q", getattr(h, f))) if h.HasField(f) else b"\0"
    out += (b"\1" + bytes([int(h.error)])) if h.HasField("error") else b"\0"
    return out + struct.pack("<I", h.ttl)


def header_mac(key, link_id, h):
    return hmac.new(key, mac_input(link_id, h), hashlib.sha256).digest()


def routed_header(m):
    """The SLIMHeader of a Publish/Subscribe/Unsubscribe, else None."""
    kind = m.WhichOneof("message_type")
    if kind in ("publish", "subscribe", "unsubscribe"):
        return getattr(m, kind).header
    return None
