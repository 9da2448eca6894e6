"""Interop test of the C wire codec against Python's protobuf runtime.

Usage: test_wire_interop.py WIRE_TOOL PYTHON_STUB_DIR

Messages built and encoded by Python's protobuf must decode in C to the same
values (C prints them in protobuf text format, compared with Python's own
text format) and re-encode to bytes that Python decodes to an equal message,
presence of optional fields included. Messages built by the C builders must
decode in Python to the values the C code was given. Truncated, oversized and
garbage input must give named statuses.
"""
import subprocess
import sys
import unittest

TOOL = sys.argv[1]
sys.path.insert(0, sys.argv[2])
del sys.argv[1:3]

from google.protobuf import text_format  # noqa: E402
from data_plane.v1 import data_plane_pb2 as pb  # noqa: E402

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(
    __import__("os").path.abspath(__file__)), "..", "integration"))
import hdrmac_ref  # noqa: E402

# Component hashes from ../shared/spec/session-layer.md section 1.2.
H = {
    "agntcy": 0x169CA82EB17D6BC2,
    "ns": 0xEEF9769A4C6990D1,
    "alice": 0x7B90BC8FA5B6B182,
    "chat": 0x4ABB367236CABC2A,
    "bob": 0x49AE1B437AE573C4,
}
ANY = 2**64 - 1
ALICE_ID = (0x0F1E2D3C4B5A6978, 0x8796A5B4C3D2E1F0)


def name(svc, id_=(ANY, ANY), strings=True):
    n = pb.Name()
    n.name.component_0 = H["agntcy"]
    n.name.component_1 = H["ns"]
    n.name.component_2 = H[svc]
    n.name.name_id.id_0, n.name.name_id.id_1 = id_
    if strings:
        n.str_name.str_component_0 = "agntcy"
        n.str_name.str_component_1 = "ns"
        n.str_name.str_component_2 = svc
    return n


def run_tool(args, lines):
    out = subprocess.run([TOOL] + args, input="".join(l + "\n" for l in lines),
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.splitlines()


def python_messages():
    msgs = {}

    m = pb.Message()
    m.subscribe.header.source.CopyFrom(name("alice", ALICE_ID))
    m.subscribe.header.destination.CopyFrom(name("chat", strings=False))
    m.subscribe.header.fanout = 1
    m.subscribe.header.ttl = 8
    m.subscribe.header.recv_from = 0  # present with the default value
    m.subscribe.subscription_id = 2**64 - 2
    msgs["subscribe"] = m

    m = pb.Message()
    h = m.publish.header
    h.source.CopyFrom(name("alice", ALICE_ID))
    h.destination.CopyFrom(name("chat"))
    h.destination.str_name.str_component_2 = "caf\u00e9 \u65e5\u672c"
    h.identity = "tok\"en\n"
    h.fanout = 256
    h.version = "0.1.0"
    h.ttl = 8
    h.error = False
    h.header_mac = b""
    h.e2e_header_sig = bytes(range(64))
    h.incoming_conn = 3
    m.publish.session.session_type = pb.SESSION_TYPE_MULTICAST
    m.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_MSG
    m.publish.session.session_id = 2**32 - 1
    m.publish.session.message_id = 2**31
    m.publish.msg.app_payload.payload_type = "msg"
    m.publish.msg.app_payload.blob = bytes(range(256)) * 3
    m.metadata["PUBLISH_TO"] = "TRUE"
    msgs["publish_app"] = m

    m = pb.Message()
    m.publish.header.source.CopyFrom(name("alice", ALICE_ID))
    m.publish.header.destination.CopyFrom(name("chat"))
    m.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_GROUP_UPDATE
    gu = m.publish.msg.command_payload.group_update
    gu.op = pb.REMOVE
    gu.participant.name.CopyFrom(name("bob"))
    for svc, state in (("alice", pb.ONLINE), ("bob", pb.OFFLINE)):
        p = gu.participants.add()
        p.name.CopyFrom(name(svc))
        p.settings.sends_data = True
        p.status = state
    gu.mls.commit_id = 0
    gu.mls.mls_content = b"\x00\x01commit"
    msgs["group_update"] = m

    m = pb.Message()
    m.publish.header.source.CopyFrom(name("alice", ALICE_ID))
    m.publish.header.destination.CopyFrom(name("bob"))
    jr = m.publish.msg.command_payload.join_request
    jr.timer_settings.SetInParent()  # present, all fields default
    jr.channel.CopyFrom(name("chat"))
    jr.mls_settings.header_integrity_validation_percent = 100
    msgs["join_request"] = m

    m = pb.Message()
    m.publish.header.source.CopyFrom(name("bob"))
    m.publish.header.destination.CopyFrom(name("alice", ALICE_ID))
    m.publish.msg.command_payload.join_reply.key_package = b""
    m.publish.msg.command_payload.join_reply.participant.name.CopyFrom(name("bob"))
    msgs["join_reply"] = m

    m = pb.Message()
    ln = m.link.link_negotiation
    ln.link_id = "3b0f4a52-1c9e-4f7a-9a43-2d7f7a1e5b60"
    ln.slim_version = "0.1.0"
    ln.is_reply = True
    ln.link_ecdh_public_key = b"\x07" * 32
    ln.connection_type = pb.LINK_CONNECTION_TYPE_PEER
    ln.node_id = "slim/1"
    ln.deployment_name = "dep"
    ln.link_kem_payload = b""
    msgs["link"] = m

    m = pb.Message()
    m.subscription_ack.subscription_id = 1
    m.subscription_ack.success = True
    msgs["ack"] = m

    m = pb.Message()
    m.publish.header.source.CopyFrom(name("bob"))
    m.publish.header.destination.CopyFrom(name("chat"))
    m.publish.msg.command_payload.heartbeat.epoch = 2**64 - 1
    msgs["heartbeat"] = m

    m = pb.Message()
    m.publish.header.source.CopyFrom(name("bob"))
    m.publish.header.destination.CopyFrom(name("chat"))
    for svc in ("alice", "bob", "chat"):
        m.publish.msg.command_payload.group_close.participants.add().CopyFrom(name(svc))
    msgs["group_close"] = m
    return msgs


class PythonToC(unittest.TestCase):
    def test_decode_reencode_and_values(self):
        msgs = python_messages()
        order = list(msgs)
        out = run_tool(["decode"], [msgs[k].SerializeToString().hex() for k in order])
        self.assertEqual(len(out), len(order))
        for key, line in zip(order, out):
            with self.subTest(message=key):
                want = msgs[key]
                fields = line.split(" ")
                self.assertEqual(fields[0], "OK", line)
                reencoded = bytes.fromhex(fields[1])
                c_text = bytes.fromhex(fields[2]).decode("utf-8")
                self.assertEqual(c_text, text_format.MessageToString(want))
                back = pb.Message.FromString(reencoded)
                self.assertEqual(back, want)
                self.assertEqual(text_format.MessageToString(back),
                                 text_format.MessageToString(want))
                self.assertEqual(reencoded, want.SerializeToString())

    def test_every_prefix_is_truncated(self):
        data = python_messages()["subscribe"].SerializeToString()
        out = run_tool(["decode"], [data[:n].hex() for n in range(1, len(data))])
        self.assertEqual(out, ["ERR E_TRUNCATED"] * (len(data) - 1))

    def test_oversized_and_garbage(self):
        big = python_messages()["publish_app"].SerializeToString()
        self.assertEqual(run_tool(["decode", "100"], [big.hex()]), ["ERR E_TOO_LARGE"])
        out = run_tool(["decode"], ["ff" * 11, "0b", "1a020a05", "0801", "3801"])
        self.assertEqual(out, ["ERR E_WIRE_MALFORMED", "ERR E_WIRE_MALFORMED",
                               "ERR E_WIRE_MALFORMED", "ERR E_WIRE_MALFORMED",
                               "ERR E_WIRE_UNKNOWN_TYPE"])


class CToPython(unittest.TestCase):
    def expected(self):
        exp = {}
        m = pb.Message()
        m.subscribe.header.source.CopyFrom(name("alice", ALICE_ID))
        m.subscribe.header.destination.CopyFrom(name("chat", strings=False))
        m.subscribe.header.fanout = 1
        m.subscribe.header.ttl = 8
        m.subscribe.header.recv_from = 0
        m.subscribe.subscription_id = 42
        exp["subscribe"] = m

        m = pb.Message()
        m.unsubscribe.header.source.CopyFrom(name("alice", ALICE_ID, strings=False))
        m.unsubscribe.header.destination.CopyFrom(name("chat"))
        m.unsubscribe.header.ttl = 3
        exp["unsubscribe"] = m

        m = pb.Message()
        h = m.publish.header
        h.source.CopyFrom(name("alice", ALICE_ID))
        h.destination.CopyFrom(name("chat"))
        h.identity = "jwt.token.here"
        h.fanout = 256
        h.ttl = 8
        h.error = False
        h.forward_to = 2**64 - 1
        m.publish.session.session_type = pb.SESSION_TYPE_MULTICAST
        m.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_MSG
        m.publish.session.session_id = 2**32 - 1
        m.publish.session.message_id = 1
        m.publish.msg.app_payload.payload_type = "msg"
        m.publish.msg.app_payload.blob = bytes(range(256))
        m.metadata["PUBLISH_TO"] = "TRUE"
        exp["publish_app"] = m

        m = pb.Message()
        h = m.publish.header
        h.source.CopyFrom(name("alice", ALICE_ID))
        h.destination.CopyFrom(name("chat", strings=False))
        h.fanout = 1
        h.ttl = 8
        h.recv_from = 0
        m.publish.session.session_type = pb.SESSION_TYPE_MULTICAST
        m.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_JOIN_REQUEST
        m.publish.session.session_id = 2**32 - 1
        m.publish.session.message_id = 99
        m.publish.msg.command_payload.join_request.channel.CopyFrom(name("chat"))
        exp["publish_join"] = m

        m = pb.Message()
        m.subscription_ack.subscription_id = 7
        m.subscription_ack.error = "no such subscription"
        exp["ack"] = m

        m = pb.Message()
        ln = m.link.link_negotiation
        ln.link_id = "3b0f4a52-1c9e-4f7a-9a43-2d7f7a1e5b60"
        ln.slim_version = "0.1.0"
        ln.connection_type = pb.LINK_CONNECTION_TYPE_EDGE
        ln.node_id = "slim/0"
        exp["link"] = m
        return exp

    def test_samples_decode_to_given_values(self):
        exp = self.expected()
        out = run_tool(["samples"], [])
        got = dict(line.split(" ", 1) for line in out)
        self.assertEqual(sorted(got), sorted(exp))
        for key, want in exp.items():
            with self.subTest(message=key):
                m = pb.Message.FromString(bytes.fromhex(got[key]))
                self.assertEqual(text_format.MessageToString(m),
                                 text_format.MessageToString(want))
                self.assertEqual(m, want)
                hdr = None
                if m.HasField("subscribe"):
                    hdr = m.subscribe.header
                elif m.HasField("publish"):
                    hdr = m.publish.header
                if hdr is not None:
                    # optional fields: exactly those the C side set are present
                    for f in ("recv_from", "forward_to", "incoming_conn", "error",
                              "header_mac", "e2e_header_sig"):
                        self.assertEqual(hdr.HasField(f), want.publish.header.HasField(f)
                                         if m.HasField("publish")
                                         else want.subscribe.header.HasField(f), f)


class HeaderMac(unittest.TestCase):
    """The per-hop header MAC computed by the C code (wire_tool mac /
    egress-mac) equals HMAC-SHA256 over the layout of docs/protocol.md
    computed here (hdrmac_ref.py, Python's hmac and hashlib)."""

    SECRET = bytes(range(32))
    LINK = "9d1c6f0e-5b7a-4c3e-8f21-0a6b4d2e9c17"

    def headers(self):
        """Messages that vary every covered field and its presence."""
        out = []

        def pub(**kw):
            m = pb.Message()
            h = m.publish.header
            h.source.CopyFrom(name("alice", ALICE_ID))
            h.destination.CopyFrom(name("chat"))
            h.fanout = 1
            h.ttl = 8
            for k, v in kw.items():
                setattr(h, k, v)
            m.publish.session.session_id = 5
            m.publish.msg.app_payload.blob = b"payload"
            out.append(m)
            return m

        pub()
        pub(identity="eyJhbGciOi.token", fanout=256, ttl=300)
        pub(error=False)
        pub(error=True, recv_from=7, forward_to=2**64 - 1)
        m = pub(ttl=0)
        m.publish.header.destination.ClearField("str_name")
        m = pub()
        m.publish.header.source.name.ClearField("name_id")
        m = pub()
        m.publish.header.destination.str_name.str_component_2 = "ünïcode/ñame"
        m = pub(incoming_conn=99)  # not covered
        m.publish.header.e2e_header_sig = b"sig"  # not covered
        s = pb.Message()
        s.subscribe.header.source.CopyFrom(name("bob"))
        s.subscribe.header.destination.CopyFrom(name("chat", strings=False))
        s.subscribe.header.ttl = 8
        s.subscribe.subscription_id = 42
        out.append(s)
        s = pb.Message()  # a source with strings only (a publish needs the hashes)
        s.subscribe.header.source.CopyFrom(name("bob"))
        s.subscribe.header.source.ClearField("name")
        s.subscribe.header.destination.CopyFrom(name("chat"))
        out.append(s)
        u = pb.Message()
        u.unsubscribe.header.destination.CopyFrom(name("chat"))  # no source at all
        out.append(u)
        return out

    def test_tag_of_each_header_as_received(self):
        msgs = self.headers()
        out = run_tool(["mac", self.SECRET.hex(), self.LINK],
                       [m.SerializeToString().hex() for m in msgs])
        self.assertEqual(len(out), len(msgs))
        for m, line in zip(msgs, out):
            with self.subTest(message=text_format.MessageToString(m, as_one_line=True)):
                want = hdrmac_ref.header_mac(self.SECRET, self.LINK, hdrmac_ref.routed_header(m))
                self.assertEqual(line, "OK " + want.hex())
        # a fixed header and its tag, for anyone to check by hand
        self.assertEqual(out[0], "OK " + hdrmac_ref.header_mac(
            self.SECRET, self.LINK, msgs[0].publish.header).hex())

    def test_egress_is_tagged_for_the_next_hop(self):
        msgs = self.headers()
        out = run_tool(["egress-mac", self.SECRET.hex(), self.LINK, "5"],
                       [m.SerializeToString().hex() for m in msgs])
        for m, line in zip(msgs, out):
            with self.subTest(message=text_format.MessageToString(m, as_one_line=True)):
                self.assertTrue(line.startswith("OK "), line)
                e = pb.Message.FromString(bytes.fromhex(line[3:]))
                h = hdrmac_ref.routed_header(e)
                self.assertEqual(h.ttl, 5)
                for f in ("recv_from", "forward_to", "incoming_conn"):
                    self.assertFalse(h.HasField(f), f)
                tag = h.header_mac
                h.ClearField("header_mac")
                self.assertEqual(tag, hdrmac_ref.header_mac(self.SECRET, self.LINK, h))
                # everything else as it came in
                want = pb.Message()
                want.CopyFrom(m)
                wh = hdrmac_ref.routed_header(want)
                wh.ttl = 5
                for f in ("recv_from", "forward_to", "incoming_conn"):
                    wh.ClearField(f)
                self.assertEqual(e, want)

    def test_a_changed_key_or_link_changes_the_tag(self):
        m = self.headers()[0].SerializeToString().hex()
        a = run_tool(["mac", self.SECRET.hex(), self.LINK], [m])
        b = run_tool(["mac", bytes(32).hex(), self.LINK], [m])
        c = run_tool(["mac", self.SECRET.hex(), self.LINK + "x"], [m])
        self.assertNotEqual(a, b)
        self.assertNotEqual(a, c)


if __name__ == "__main__":
    unittest.main(verbosity=2)
