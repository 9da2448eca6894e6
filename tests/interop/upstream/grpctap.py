"""A TCP proxy in front of a node that decodes what crosses it: the HTTP/2
frames of plain-text gRPC (h2c), the DATA frames of each stream, the
length-prefixed gRPC messages in them, and each message with Python
protobuf (dataplane.proto.v1.Message, the stubs generated from our proto).
It needs no HPACK: only DATA frames are read.

Used by test_upstream.py when SLIM_WIRE_DUMP names a file: the apps of a
group scenario reach the node through the tap, and every message each of
them sends and receives is written there, one line each, decoded.
"""
import struct
import time

from data_plane.v1 import data_plane_pb2 as pb
from google.protobuf import text_format
from tcpproxy import Proxy

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_DATA = 0
FLAG_PADDED = 0x8
ANY64 = 2**64 - 1
STYPE = {v: k.replace("SESSION_MESSAGE_TYPE_", "")
         for k, v in pb.SessionMessageType.items()}
SKIND = {v: k.replace("SESSION_TYPE_", "") for k, v in pb.SessionType.items()}


def name_text(n):
    """org/ns/service/<uuid> (or /ANY when the id is unset)."""
    s = n.str_name
    text = "/".join((s.str_component_0, s.str_component_1, s.str_component_2))
    if not text.strip("/"):
        e = n.name
        text = f"#{e.component_0:x}/#{e.component_1:x}/#{e.component_2:x}"
    i = n.name.name_id
    if not n.name.HasField("name_id") or (i.id_0 == ANY64 and i.id_1 == ANY64):
        return text + "/ANY"
    h = f"{i.id_0:016x}{i.id_1:016x}"
    return f"{text}/{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def compact(msg):
    """A protobuf message in one short line: names as text, bytes as their
    length."""
    parts = []
    for field, value in msg.ListFields():
        values = value if field.label == field.LABEL_REPEATED else [value]
        shown = []
        for v in values:
            if field.type == field.TYPE_MESSAGE:
                shown.append(name_text(v) if field.message_type.name == "Name"
                              else "{" + compact(v) + "}")
            elif field.type == field.TYPE_BYTES:
                shown.append(f"<{len(v)} bytes>")
            elif field.type == field.TYPE_ENUM:
                shown.append(field.enum_type.values_by_number[v].name)
            else:
                shown.append(str(v))
        if field.label == field.LABEL_REPEATED:
            parts.append(f"{field.name}=[{', '.join(shown)}]")
        else:
            parts.append(f"{field.name}={shown[0]}")
    return " ".join(parts)


def describe(m):
    """One line for one decoded pb.Message."""
    kind = m.WhichOneof("message_type")
    if kind in ("subscribe", "unsubscribe"):
        sub = getattr(m, kind)
        return f"{kind.upper()} {name_text(sub.header.destination)}"
    if kind == "subscription_ack":
        return "SUBSCRIPTION_ACK " + text_format.MessageToString(m.subscription_ack,
                                                                 as_one_line=True)
    if kind == "link":
        return "LINK (negotiation)"
    if kind != "publish":
        return f"{kind}"
    p = m.publish
    h, s = p.header, p.session
    out = [f"{STYPE.get(s.session_message_type, s.session_message_type)}",
           f"{SKIND.get(s.session_type, s.session_type)}",
           f"session={s.session_id}", f"id={s.message_id}",
           f"src={name_text(h.source)}", f"dst={name_text(h.destination)}",
           f"fanout={h.fanout}", f"ttl={h.ttl}"]
    for opt in ("forward_to", "recv_from", "incoming_conn", "error"):
        if h.HasField(opt):
            out.append(f"{opt}={getattr(h, opt)}")
    out.append(f"identity={'yes' if h.identity else 'no'}")
    out.append(f"sig={'yes' if h.HasField('e2e_header_sig') else 'no'}")
    if m.metadata:
        out.append("metadata=" + ",".join(f"{k}={v}" for k, v in sorted(m.metadata.items())))
    content = p.msg.WhichOneof("content_type")
    if content == "app_payload":
        a = p.msg.app_payload
        out.append(f"payload({a.payload_type})={bytes(a.blob)[:80]!r}")
    elif content == "command_payload":
        c = p.msg.command_payload
        variant = c.WhichOneof("command_payload_type")
        body = compact(getattr(c, variant)) if variant else ""
        out.append(f"command={variant}{{{body}}}")
    else:
        out.append("content=none")
    return " ".join(out)


class _Stream:
    """One direction of one connection: HTTP/2 frames in, gRPC messages
    out."""

    def __init__(self, client_side):
        self.buf = bytearray()
        self.preface = client_side
        self.grpc = {}  # stream id -> bytearray of DATA not yet a whole message

    def feed(self, data):
        """Returns the gRPC message bodies completed by data."""
        self.buf += data
        if self.preface:
            if len(self.buf) < len(PREFACE):
                return []
            del self.buf[:len(PREFACE)]
            self.preface = False
        out = []
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                break
            ftype, flags = self.buf[3], self.buf[4]
            sid = struct.unpack(">I", bytes(self.buf[5:9]))[0] & 0x7FFFFFFF
            body = bytes(self.buf[9:9 + length])
            del self.buf[:9 + length]
            if ftype != FRAME_DATA:
                continue
            if flags & FLAG_PADDED:
                body = body[1:len(body) - body[0]]
            g = self.grpc.setdefault(sid, bytearray())
            g += body
            while len(g) >= 5:
                n = int.from_bytes(g[1:5], "big")
                if len(g) < 5 + n:
                    break
                out.append((g[0], bytes(g[5:5 + n])))
                del g[:5 + n]
        return out


class Tap(Proxy):
    """A Proxy (tests/integration/tcpproxy.py) to target_port that decodes
    both directions of every connection. records: (time, connection
    number, "app->node" or "node->app", pb.Message or an error text)."""

    def __init__(self, target_port, host="127.0.0.1"):
        self.records = []
        self.t0 = time.time()
        super().__init__(target_port, host)

    def observer(self, conn, to_target):
        way = "app->node" if to_target else "node->app"
        stream = _Stream(client_side=to_target)

        def decode(data):
            now = time.time()
            for compressed, body in stream.feed(data):
                if compressed:
                    rec = "a compressed gRPC message (not decoded)"
                else:
                    rec = pb.Message()
                    try:
                        rec.ParseFromString(body)
                    except Exception as e:  # noqa: BLE001 - reported as is
                        rec = f"undecodable ({e}): {body[:64].hex()}"
                with self.lock:
                    self.records.append((now, conn, way, rec))
        return decode

    def conn_names(self):
        """Connection number -> the app on it (the source of the first
        message it sent), for the dump."""
        names = {}
        for _, conn, way, rec in self.records:
            if conn in names or way != "app->node" or isinstance(rec, str):
                continue
            kind = rec.WhichOneof("message_type")
            if kind in ("subscribe", "publish"):
                names[conn] = name_text(getattr(rec, kind).header.source)
        return names

    def dump(self, sessions_only=True):
        """The decoded messages, one line each, in the order they crossed."""
        names = self.conn_names()
        lines = []
        with self.lock:
            records = sorted(self.records, key=lambda r: r[0])
        for t, conn, way, rec in records:
            if isinstance(rec, str):
                text = rec
            else:
                if sessions_only and rec.WhichOneof("message_type") == "link":
                    continue
                text = describe(rec)
            who = names.get(conn, f"conn {conn}")
            lines.append(f"{t - self.t0:8.3f} {who} {way} {text}")
        return "\n".join(lines) + "\n"
