"""The bytes the session core puts on the wire, read by an independent decoder.

Usage: check_session_wire.py TEST_SESSIONS_BINARY PYTHON_STUB_DIR [TEST_GROUPS_BINARY]

Runs the `wire_scenario` case of test_sessions with SLIM_SESSION_DUMP set, so
that every message the applications' session cores hand to their router is
written to a file, then decodes each with Python's protobuf (stubs generated
from proto/data-plane/v1/data_plane.proto) and checks it against the session
protocol at upstream's reference commit (session-protocol-head.md §1-§3,
§10): session and message types, content kinds, names with NameId and text,
ttl 8, fanout 1, identity and signature, error only on an RTX_REPLY that
cannot be served, forward_to only where the protocol puts it, request ids
fresh and non-zero, replies echoing them, data ids counting from 1, the
payload of each command message, and the route subscriptions.

With TEST_GROUPS_BINARY it also runs `group_wire_scenario` of test_groups
and checks the group messages (§2.5, §3, §5.3-§5.7): the channel's data and
control names recomputed here with XXH3-128, fanout 256 to them, the
roster payloads, LEAVING_SESSION, publish_to, and the subscriptions.
"""
import os
import subprocess
import sys
import tempfile
import unittest

BINARY = sys.argv[1]
sys.path.insert(0, sys.argv[2])
GROUPS = sys.argv[3] if len(sys.argv) > 3 and not sys.argv[3].startswith("-") else None
del sys.argv[1:4 if GROUPS else 3]

from data_plane.v1 import data_plane_pb2 as pb  # noqa: E402

ANY = 2**64 - 1
P2P = pb.SESSION_TYPE_POINT_TO_POINT
T = {name: pb.SessionMessageType.Value("SESSION_MESSAGE_TYPE_" + name) for name in (
    "MSG", "MSG_ACK", "RTX_REQUEST", "RTX_REPLY", "DISCOVERY_REQUEST", "DISCOVERY_REPLY",
    "JOIN_REQUEST", "JOIN_REPLY", "LEAVE_REQUEST", "LEAVE_REPLY", "GROUP_UPDATE",
    "GROUP_WELCOME", "GROUP_CLOSE", "GROUP_PROPOSAL", "GROUP_ACK", "GROUP_NACK", "HEARTBEAT",
    "UPDATE_PARTICIPANT_STATE", "REJOIN_REQUEST", "REJOIN_REPLY")}
NAME = {v: k for k, v in T.items()}
# command payload variant of each command message type (types 5-20)
VARIANT = {T[k]: v for k, v in (
    ("DISCOVERY_REQUEST", "discovery_request"), ("DISCOVERY_REPLY", "discovery_reply"),
    ("JOIN_REQUEST", "join_request"), ("JOIN_REPLY", "join_reply"),
    ("LEAVE_REQUEST", "leave_request"), ("LEAVE_REPLY", "leave_reply"),
    ("GROUP_UPDATE", "group_update"), ("GROUP_WELCOME", "group_welcome"),
    ("GROUP_CLOSE", "group_close"), ("GROUP_PROPOSAL", "group_proposal"),
    ("GROUP_ACK", "group_ack"), ("GROUP_NACK", "group_nack"), ("HEARTBEAT", "heartbeat"),
    ("UPDATE_PARTICIPANT_STATE", "update_participant_state"),
    ("REJOIN_REQUEST", "rejoin_request"), ("REJOIN_REPLY", "rejoin_reply"))}
REPLY_OF = {
    T["DISCOVERY_REPLY"]: (T["DISCOVERY_REQUEST"],),
    T["JOIN_REPLY"]: (T["JOIN_REQUEST"],),
    T["LEAVE_REPLY"]: (T["LEAVE_REQUEST"],),
    T["GROUP_ACK"]: (T["GROUP_WELCOME"], T["GROUP_CLOSE"]),
}
REQUESTS = (T["DISCOVERY_REQUEST"], T["JOIN_REQUEST"], T["LEAVE_REQUEST"], T["GROUP_WELCOME"],
            T["GROUP_CLOSE"], T["HEARTBEAT"])
# forward_to: on the answers that go back where a message came from, and on
# replies to a received message (§1.2); sessions without a route (ANYCAST)
# also send their control messages and answers back that way.
FORWARDED = (T["DISCOVERY_REPLY"], T["MSG_ACK"], T["RTX_REQUEST"], T["RTX_REPLY"])
ANYCAST_FORWARDED = (T["GROUP_CLOSE"], T["GROUP_ACK"], T["LEAVE_REQUEST"], T["LEAVE_REPLY"])


def key(n):
    e = n.name
    return (e.component_0, e.component_1, e.component_2, e.name_id.id_0, e.name_id.id_1)


def service(n):
    return key(n)[:3]


def text(n):
    s = n.str_name
    return "/".join((s.str_component_0, s.str_component_1, s.str_component_2))


class Dump:
    """The messages of one run of the scenario, in the order they were sent."""

    def __init__(self, binary=None, case="wire_scenario"):
        self.dir = tempfile.TemporaryDirectory()
        env = dict(os.environ, SLIM_SESSION_DUMP=self.dir.name)
        out = subprocess.run([binary or BINARY, case], env=env, capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            raise AssertionError(case + " failed:\n" + out.stdout + out.stderr)
        self.msgs = []
        for f in sorted(os.listdir(self.dir.name)):
            with open(os.path.join(self.dir.name, f), "rb") as fh:
                m = pb.Message()
                m.ParseFromString(fh.read())
                self.msgs.append((f, m))
        self.dir.cleanup()

    def publishes(self):
        return [(f, m) for f, m in self.msgs if m.WhichOneof("message_type") == "publish"]


DUMP = None


def setUpModule():
    global DUMP
    DUMP = Dump()


class SessionWire(unittest.TestCase):
    def setUp(self):
        self.pubs = DUMP.publishes()
        # sessions with a handshake (UNICAST); the others are ANYCAST
        self.unicast = {m.publish.session.session_id for _, m in self.pubs
                        if m.publish.session.session_message_type == T["DISCOVERY_REQUEST"]}

    def test_every_type_of_a_point_to_point_session_is_covered(self):
        seen = {m.publish.session.session_message_type for _, m in self.pubs}
        want = {T[k] for k in ("MSG", "MSG_ACK", "RTX_REQUEST", "RTX_REPLY", "DISCOVERY_REQUEST",
                               "DISCOVERY_REPLY", "JOIN_REQUEST", "JOIN_REPLY", "LEAVE_REQUEST",
                               "LEAVE_REPLY", "GROUP_WELCOME", "GROUP_CLOSE", "GROUP_ACK",
                               "HEARTBEAT")}
        self.assertEqual(want - seen, set(), "types never sent")
        kinds = {m.WhichOneof("message_type") for _, m in DUMP.msgs}
        self.assertEqual(kinds, {"publish", "subscribe", "unsubscribe"})
        self.assertTrue(any(m.publish.header.HasField("error") for _, m in self.pubs))

    def test_headers(self):
        for f, m in self.pubs:
            h, s = m.publish.header, m.publish.session
            t = s.session_message_type
            with self.subTest(file=f, type=NAME.get(t)):
                self.assertEqual(s.session_type, P2P)
                self.assertIn(t, NAME)
                self.assertLess(s.session_id, 4294966295)
                for n in (h.source, h.destination):
                    self.assertTrue(n.HasField("name"))
                    self.assertTrue(n.name.HasField("name_id"), "NameId always present")
                    self.assertTrue(n.HasField("str_name"))
                    self.assertTrue(all(text(n).split("/")))
                self.assertNotEqual(h.source.name.name_id.id_0, ANY, "a source has an id")
                self.assertEqual(h.ttl, 8)
                self.assertEqual(h.fanout, 1)
                self.assertTrue(h.version)
                self.assertTrue(h.identity.startswith("tok:"), "stamped")
                self.assertEqual(h.HasField("e2e_header_sig"), 5 <= t <= 20,
                                 "signature on command messages only")
                for local in ("recv_from", "incoming_conn", "header_mac"):
                    self.assertFalse(h.HasField(local), local)
                if h.HasField("error"):
                    self.assertEqual(t, T["RTX_REPLY"], "error only on an RTX_REPLY")
                    self.assertTrue(h.error)
                    self.assertEqual(m.publish.msg.app_payload.blob, b"")
                if h.HasField("forward_to"):
                    ok = t in FORWARDED or (t == T["MSG"]) or (
                        s.session_id not in self.unicast and t in ANYCAST_FORWARDED)
                    self.assertTrue(ok, "forward_to where the protocol has none")
                elif t in FORWARDED:
                    self.fail("%s without forward_to" % NAME[t])
                self.assertNotIn("PUBLISH_TO", m.metadata)

    def test_content_kinds(self):
        for f, m in self.pubs:
            t = m.publish.session.session_message_type
            c = m.publish.msg
            with self.subTest(file=f, type=NAME.get(t)):
                if 5 <= t <= 20:
                    self.assertEqual(c.WhichOneof("content_type"), "command_payload")
                    self.assertEqual(c.command_payload.WhichOneof("command_payload_type"),
                                     VARIANT[t])
                else:
                    self.assertEqual(c.WhichOneof("content_type"), "app_payload")
                if t in (T["MSG_ACK"], T["RTX_REQUEST"]):
                    self.assertEqual(c.app_payload.payload_type, "")
                    self.assertEqual(c.app_payload.blob, b"")
                if t == T["MSG"]:
                    self.assertEqual(c.app_payload.payload_type, "msg")

    def test_ids(self):
        requests = {}  # (sid, type, id) -> message
        data = {}      # (sid, source) -> highest MSG id
        rtx = set()
        for f, m in self.pubs:
            h, s = m.publish.header, m.publish.session
            t, sid, mid = s.session_message_type, s.session_id, s.message_id
            with self.subTest(file=f, type=NAME.get(t)):
                if t in REQUESTS:
                    self.assertNotEqual(mid, 0, "request ids are non-zero")
                    requests[(sid, t, mid)] = m
                elif t in REPLY_OF:
                    req = [requests.get((sid, rt, mid)) for rt in REPLY_OF[t]]
                    req = [r for r in req if r is not None]
                    self.assertTrue(req, "%s echoes no request" % NAME[t])
                    r = req[0].publish.header
                    self.assertEqual(key(h.destination), key(r.source), "back to the asker")
                    self.assertEqual(service(h.source), service(r.destination))
                elif t == T["MSG"]:
                    k = (sid, key(h.source))
                    high = data.get(k, 0)
                    self.assertLessEqual(mid, high + 1, "data ids count from 1 with no gap")
                    data[k] = max(high, mid)
                elif t == T["MSG_ACK"]:
                    k = (sid, key(h.destination))
                    self.assertLessEqual(mid, data.get(k, 0), "acknowledges a sent id")
                    self.assertGreater(mid, 0)
                elif t == T["RTX_REQUEST"]:
                    rtx.add((sid, mid))
                elif t == T["RTX_REPLY"]:
                    self.assertIn((sid, mid), rtx, "answers an RTX_REQUEST")

    def test_handshake_and_close_payloads(self):
        disc = {}
        for f, m in self.pubs:
            h, s = m.publish.header, m.publish.session
            t = s.session_message_type
            cp = m.publish.msg.command_payload
            with self.subTest(file=f, type=NAME.get(t)):
                if t == T["DISCOVERY_REQUEST"]:
                    self.assertEqual(h.destination.name.name_id.id_0, ANY, "any instance")
                    self.assertEqual(h.destination.name.name_id.id_1, ANY)
                    disc[(s.session_id, s.message_id)] = m
                elif t == T["DISCOVERY_REPLY"]:
                    req = disc[(s.session_id, s.message_id)].publish.header
                    self.assertEqual(service(h.source), service(req.destination))
                    self.assertNotEqual(h.source.name.name_id.id_0, ANY, "with its id")
                elif t == T["JOIN_REQUEST"]:
                    jr = cp.join_request
                    self.assertFalse(jr.HasField("channel") or jr.HasField("control") or
                                     jr.HasField("mls_settings"), "P2P: no channel, no MLS")
                    if jr.HasField("timer_settings"):
                        self.assertEqual((jr.timer_settings.timeout, jr.timer_settings.max_retries),
                                         (1000, 3))
                        self.assertEqual(dict(m.metadata), {"k": "v"})
                    self.assertNotEqual(h.destination.name.name_id.id_0, ANY)
                elif t == T["JOIN_REPLY"]:
                    p = cp.join_reply.participant
                    self.assertEqual(key(p.name), key(h.source))
                    self.assertTrue(p.settings.sends_data and p.settings.receives_data)
                    self.assertEqual(p.status, pb.ONLINE)
                    self.assertFalse(cp.join_reply.HasField("key_package"))
                elif t == T["GROUP_WELCOME"]:
                    ps = cp.group_welcome.participants
                    self.assertEqual([key(p.name) for p in ps],
                                     [key(h.source), key(h.destination)])
                    self.assertFalse(cp.group_welcome.HasField("mls"))
                elif t == T["GROUP_CLOSE"]:
                    self.assertEqual([key(n) for n in cp.group_close.participants],
                                     [key(h.source), key(h.destination)])
                    self.assertNotEqual(h.destination.name.name_id.id_0, ANY)
                elif t == T["LEAVE_REQUEST"]:
                    self.assertEqual(m.metadata.get("LEAVING_SESSION"), "TRUE")
                elif t == T["HEARTBEAT"]:
                    self.assertEqual(cp.heartbeat.epoch, 2**64 - 1, "no MLS: the largest epoch")
                    self.assertIn(s.session_id, self.unicast)

    def test_routes(self):
        subs = {}
        for f, m in DUMP.msgs:
            kind = m.WhichOneof("message_type")
            if kind not in ("subscribe", "unsubscribe"):
                continue
            body = getattr(m, kind)
            h = body.header
            with self.subTest(file=f, kind=kind):
                self.assertTrue(h.HasField("recv_from"), "a route: recv_from")
                self.assertFalse(h.HasField("forward_to"))
                self.assertNotEqual(body.subscription_id, 0)
                self.assertNotEqual(h.destination.name.name_id.id_0, ANY, "to a full name")
                if kind == "subscribe":
                    subs[body.subscription_id] = (key(h.destination), h.recv_from)
                else:
                    self.assertEqual(subs.pop(body.subscription_id),
                                     (key(h.destination), h.recv_from))
        self.assertEqual(subs, {}, "every route is removed")


MULTICAST = pb.SESSION_TYPE_MULTICAST
GDUMP = None


def channel_key(provider, comps, kind, seed=0):
    import xxhash
    v = xxhash.xxh3_128_intdigest(("%s/%s/%s" % (provider, "/".join(comps), kind)).encode(), seed)
    top = 2**128 - 1
    if v >= top - 50:
        v = (v % (top - 51)) + 1
    return v >> 64, v & (2**64 - 1)


@unittest.skipUnless(GROUPS, "no test_groups binary given")
class GroupWire(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global GDUMP
        if GDUMP is None:
            GDUMP = Dump(GROUPS, "group_wire_scenario")
        cls.pubs = GDUMP.publishes()
        # the moderator (org/ns/mod, id 0x30d:1, no provider id): the app id's hex form
        provider = "%016x%016x" % (0x30d, 1)
        cls.data = channel_key(provider, ("org", "ns", "chat"), "data")
        cls.ctrl = channel_key(provider, ("org", "ns", "chat"), "control")
        cls.assertNotEqual(cls, cls.data, cls.ctrl)

    def ids(self, n):
        return (n.name.name_id.id_0, n.name.name_id.id_1)

    def is_chan(self, n, which):
        return text(n) == "org/ns/chat" and self.ids(n) == which

    def test_every_group_type_is_covered(self):
        seen = {m.publish.session.session_message_type for _, m in self.pubs}
        want = {T[k] for k in ("MSG", "MSG_ACK", "DISCOVERY_REQUEST", "DISCOVERY_REPLY",
                               "JOIN_REQUEST", "JOIN_REPLY", "GROUP_UPDATE", "GROUP_WELCOME",
                               "GROUP_ACK", "GROUP_CLOSE", "LEAVE_REQUEST", "LEAVE_REPLY",
                               "HEARTBEAT")}
        self.assertEqual(want - seen, set(), "types never sent")

    def test_group_messages(self):
        members = set()
        ops = set()
        for f, m in self.pubs:
            h, s = m.publish.header, m.publish.session
            t = s.session_message_type
            cp = m.publish.msg.command_payload
            with self.subTest(file=f, type=NAME.get(t)):
                self.assertEqual(s.session_type, MULTICAST)
                self.assertEqual(h.ttl, 8)
                self.assertTrue(h.identity.startswith("tok:"))
                self.assertEqual(h.HasField("e2e_header_sig"), 5 <= t <= 20)
                self.assertTrue(h.source.HasField("str_name"))
                self.assertTrue(h.destination.name.HasField("name_id"))
                to_data = self.is_chan(h.destination, self.data)
                to_ctrl = self.is_chan(h.destination, self.ctrl)
                if t == T["JOIN_REQUEST"]:
                    jr = cp.join_request
                    self.assertTrue(self.is_chan(jr.channel, self.data), "C-data of §2.5")
                    self.assertTrue(self.is_chan(jr.control, self.ctrl), "C-ctrl of §2.5")
                    self.assertEqual((jr.timer_settings.timeout, jr.timer_settings.max_retries),
                                     (1000, 3))
                    self.assertFalse(jr.HasField("mls_settings"))
                    self.assertEqual(h.fanout, 1)
                elif t == T["MSG"] and "PUBLISH_TO" in m.metadata:
                    self.assertEqual(m.metadata["PUBLISH_TO"], "TRUE")
                    self.assertEqual(h.fanout, 1)
                    self.assertGreaterEqual(s.message_id, 2**31)
                    self.assertTrue(h.HasField("forward_to"))
                    self.assertFalse(to_data)
                elif t == T["MSG"]:
                    if h.fanout == 256:
                        self.assertTrue(to_data, "group data to C-data")
                    else:  # sent again to one member that did not acknowledge it
                        self.assertEqual(h.fanout, 1)
                        self.assertFalse(to_data or to_ctrl)
                    self.assertLess(s.message_id, 2**31)
                elif t in (T["GROUP_UPDATE"], T["GROUP_CLOSE"], T["HEARTBEAT"]):
                    self.assertEqual(h.fanout, 256)
                    self.assertTrue(to_ctrl, "broadcast control to C-ctrl")
                    if t == T["GROUP_UPDATE"]:
                        u = cp.group_update
                        ops.add(u.op)
                        roster = [key(p.name) for p in u.participants]
                        self.assertIn(key(u.participant.name), roster, "snapshot has it")
                        self.assertIn(key(h.source), roster)
                        self.assertGreater(len(roster), 2)
                        self.assertFalse(u.HasField("mls"))
                    elif t == T["GROUP_CLOSE"]:
                        self.assertIn(key(h.source), [key(n) for n in cp.group_close.participants])
                    else:
                        self.assertEqual(cp.heartbeat.epoch, 2**64 - 1)
                elif t == T["GROUP_WELCOME"]:
                    roster = [key(p.name) for p in cp.group_welcome.participants]
                    self.assertIn(key(h.source), roster)
                    self.assertIn(key(h.destination), roster)
                    self.assertEqual(h.fanout, 1)
                    members.add(key(h.destination))
                elif t == T["LEAVE_REQUEST"]:
                    leaving = m.metadata.get("LEAVING_SESSION")
                    if text(h.source) == "org/ns/mod":
                        self.assertIsNone(leaving, "a removal")
                    else:
                        self.assertEqual(leaving, "TRUE", "a member leaving")
                else:
                    self.assertEqual(h.fanout, 1)
                    self.assertFalse(to_data or to_ctrl)
        self.assertEqual(len(members), 3)
        self.assertEqual(ops, {pb.ADD, pb.REMOVE})

    def test_subscriptions_and_routes(self):
        held = {}
        subs = 0
        for f, m in GDUMP.msgs:
            kind = m.WhichOneof("message_type")
            if kind not in ("subscribe", "unsubscribe"):
                continue
            body = getattr(m, kind)
            h = body.header
            with self.subTest(file=f, kind=kind):
                self.assertNotEqual(h.HasField("recv_from"), h.HasField("forward_to"))
                if h.HasField("forward_to"):
                    self.assertTrue(self.is_chan(h.destination, self.data) or
                                    self.is_chan(h.destination, self.ctrl),
                                    "only the channel is subscribed")
                    subs += kind == "subscribe"
                k = (key(h.destination), h.recv_from, h.forward_to, h.HasField("forward_to"))
                if kind == "subscribe":
                    held[body.subscription_id] = k
                else:
                    self.assertEqual(held.pop(body.subscription_id), k)
        self.assertEqual(held, {}, "every route and subscription is removed")
        self.assertEqual(subs, 2 * 4, "C-data and C-ctrl by the moderator and 3 members")


if __name__ == "__main__":
    unittest.main()
