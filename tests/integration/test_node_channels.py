"""Integration tests of channels through the controller, the node's side
(docs/protocol.md, "Channels through the controller (ours)"): a fake
controller written with grpcio (the pattern of test_node_control.py) sends
channel requests on the control stream of a real `slim` node; a grpcio
EDGE client plays the moderator application.

Checked: the Publish the moderator receives (source, destination, fanout,
session type and message type 100, content type, the ControlMessage as
sent, and a SLIM_IDENTITY token verified here from the format of
docs/identity.md with hmac/hashlib, not with the node's code); the token
the node registers with (`authorization: Bearer`, identity its node id);
a JWT token_provider (HS256, checked with hmac) and a static_jwt one; the
moderator's reply (type 101) becoming the controller's ack with the
controller's message id; "no route" when no moderator is connected; a
reply from another name ignored, then the timeout; a node without
token_provider refusing the request.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
import unittest

from slimnode import Link, Node, name, pb  # noqa: F401  (slimnode sets sys.path)
from test_node_control import FakeController, msg, register, report  # noqa: E402
from controller.v1 import controller_pb2 as cpb  # noqa: E402

SECRET = "a shared secret of at least thirty-two bytes, for the tests"
CONTENT_TYPE = "application/x-slim-controller"


def controller_yaml(port, secret=SECRET, timeout=None, provider=None):
    y = ("    controller:\n"
         "      clients:\n"
         f"        - endpoint: \"http://127.0.0.1:{port}\"\n"
         "          tls: {insecure: true}\n")
    if provider is not None:
        y += f"      token_provider: {provider}\n"
    elif secret is not None:
        y += f"      token_provider: {{shared_secret: \"{secret}\"}}\n"
    if timeout is not None:
        y += f"      request_timeout: {timeout}\n"
    return y


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_token(test, token, secret, base="controller"):
    """A shared-secret token as docs/identity.md describes it:
    <id>:<unix seconds>:<nonce>:<claims>:<mac>, mac = unpadded URL-safe
    base64 of HMAC-SHA256(secret, everything before the last ':'); the id
    is base + "_" + 8 characters."""
    fields = token.split(":")
    test.assertEqual(len(fields), 5, token)
    ident, ts, nonce, claims, mac = fields
    test.assertTrue(ident.startswith(base + "_"), ident)
    test.assertEqual(len(ident), len(base) + 9, ident)
    test.assertLess(abs(int(ts) - time.time()), 60)
    test.assertEqual(len(b64url_decode(nonce)), 12)
    test.assertIn("pubkey", json.loads(b64url_decode(claims)))
    want = hmac.new(secret.encode(), token[:token.rindex(":")].encode(), hashlib.sha256).digest()
    test.assertEqual(mac, b64url(want))
    bad = hmac.new(b"another secret", token[:token.rindex(":")].encode(),
                   hashlib.sha256).digest()
    test.assertNotEqual(mac, b64url(bad))


def strings(n):
    return "/".join((n.str_name.str_component_0, n.str_name.str_component_1,
                     n.str_name.str_component_2))


def create_channel(moderators, channel="org/ns/chan"):
    return msg(create_channel_request=cpb.CreateChannelRequest(moderators=moderators,
                                                               channel_name=channel))


def answer(request, src, ok, messages):
    """The moderator's CONTROLLER_REPLY to a received request Publish."""
    m = pb.Message()
    h = m.publish.header
    h.source.CopyFrom(name(src))
    h.destination.CopyFrom(request.publish.header.source)
    h.fanout = 1
    h.ttl = 8
    s = m.publish.session
    s.session_type = pb.SESSION_TYPE_MULTICAST
    s.session_message_type = pb.SESSION_MESSAGE_TYPE_CONTROLLER_REPLY
    s.session_id = 0
    s.message_id = request.publish.session.message_id
    inner = cpb.ControlMessage.FromString(request.publish.msg.app_payload.blob)
    m.publish.msg.app_payload.payload_type = CONTENT_TYPE
    m.publish.msg.app_payload.blob = cpb.ControlMessage(
        message_id="reply-1",
        ack=cpb.Ack(original_message_id=inner.message_id, success=ok,
                    messages=messages)).SerializeToString()
    return m


def acked(stream, request, timeout=10):
    """The ack of request (skipping reports)."""
    end = time.time() + timeout
    while True:
        m = stream.recv(max(0.1, end - time.time()))
        if m.HasField("ack") and m.ack.original_message_id == request.message_id:
            return m.ack


class NodeChannels(unittest.TestCase):
    def setUp(self):
        self.nodes, self.links, self.controllers = [], [], []

    def tearDown(self):
        for link in self.links:
            link.close()
        for node in self.nodes:
            node.close()
            with open(node.log_path, errors="replace") as f:
                self.assertNotIn("Sanitizer", f.read())
        for c in self.controllers:
            c.stop()

    def start(self, **yaml):
        ctl = FakeController()
        self.controllers.append(ctl)
        node = Node(node_name="0", extra_dataplane=controller_yaml(ctl.port, **yaml))
        self.nodes.append(node)
        s = ctl.stream()
        reg = register(s)
        self.assertEqual(list(reg.subscriptions), [])  # the controller's name is not there
        return node, s

    def moderator(self, node, stream, text="org/ns/mod"):
        link = Link(node.port)
        self.links.append(link)
        link.subscribe(text, sub_id=1)
        r = report(stream)  # the subscription is in place
        self.assertEqual(len(r.subscriptions_to_set), 1)
        return link

    def test_request_reaches_the_moderator_and_its_answer_the_controller(self):
        node, s = self.start()
        mod = self.moderator(node, s)
        req = create_channel(["org/ns/mod"])
        s.send(req)
        m = mod.recv(10)
        self.assertTrue(m.HasField("publish"), m)
        h = m.publish.header
        self.assertEqual(strings(h.source), "controller/controller/controller")
        any_id = (2**64 - 1, 2**64 - 1)
        self.assertNotEqual((h.source.name.name_id.id_0, h.source.name.name_id.id_1), any_id)
        self.assertEqual(strings(h.destination), "org/ns/mod")
        self.assertEqual(h.destination.name, name("org/ns/mod").name)
        self.assertEqual(h.fanout, 1)
        ses = m.publish.session
        self.assertEqual(ses.session_type, pb.SESSION_TYPE_MULTICAST)
        self.assertEqual(ses.session_message_type, 100)
        self.assertEqual(ses.session_id, 0)
        self.assertNotEqual(ses.message_id, 0)
        ap = m.publish.msg.app_payload
        self.assertEqual(ap.payload_type, CONTENT_TYPE)
        self.assertEqual(ap.blob, req.SerializeToString())
        self.assertEqual(cpb.ControlMessage.FromString(ap.blob), req)
        check_token(self, m.metadata["SLIM_IDENTITY"], SECRET)
        auth = s.metadata["authorization"]
        self.assertTrue(auth.startswith("Bearer "), auth)
        check_token(self, auth[len("Bearer "):], SECRET, base="slim/0")

        mod.send(answer(m, "org/ns/mod/5", True, ["channel org/ns/chan created"]))
        a = acked(s, req)
        self.assertTrue(a.success)
        self.assertEqual(list(a.messages), ["channel org/ns/chan created"])
        s.expect_nothing(1.0)  # exactly one answer

        # A second request, answered with a failure.
        req2 = msg(delete_channel_request=cpb.DeleteChannelRequest(
            channel_name="org/ns/chan", moderators=["org/ns/mod"]))
        s.send(req2)
        m2 = mod.recv(10)
        self.assertEqual(m2.publish.session.session_message_type, 100)
        self.assertNotEqual(m2.publish.session.message_id, ses.message_id)
        mod.send(answer(m2, "org/ns/mod/5", False, ["no channel org/ns/chan moderated by x"]))
        a = acked(s, req2)
        self.assertFalse(a.success)
        self.assertEqual(list(a.messages), ["no channel org/ns/chan moderated by x"])

    def test_no_moderator_means_no_route(self):
        node, s = self.start()
        req = create_channel(["org/ns/nobody"])
        s.send(req)
        a = acked(s, req)
        self.assertFalse(a.success)
        self.assertEqual(list(a.messages), ["no route to org/ns/nobody"])
        req = create_channel([])
        s.send(req)
        a = acked(s, req)
        self.assertFalse(a.success)

    def test_answer_from_another_name_is_ignored_and_the_request_times_out(self):
        node, s = self.start(timeout="2s")
        mod = self.moderator(node, s)
        req = msg(add_participant_request=cpb.AddParticipantRequest(
            channel_name="org/ns/chan", participant_name="org/ns/bob",
            moderators=["org/ns/mod"]))
        t0 = time.time()
        s.send(req)
        m = mod.recv(10)
        self.assertEqual(m.publish.session.session_message_type, 100)
        mod.send(answer(m, "org/ns/other/5", True, ["not me"]))
        a = acked(s, req, timeout=10)
        self.assertGreaterEqual(time.time() - t0, 1.5)
        self.assertFalse(a.success)
        self.assertEqual(list(a.messages),
                         ["the moderator org/ns/mod did not answer within 2 s"])
        # A late answer from the right name changes nothing.
        mod.send(answer(m, "org/ns/mod/5", True, ["late"]))
        s.expect_nothing(1.0)

    def test_jwt_token_provider(self):
        key = b"an HS256 key of the node, thirty-two bytes or more!"
        d = tempfile.mkdtemp(prefix="slim-jwt-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "key"), "wb") as f:
            f.write(key)
        node, s = self.start(provider=(
            "{jwt: {claims: {issuer: ctl-issuer, subject: node-zero, audience: [apps]}, "
            "duration: 10m, key: {encoding: {algorithm: HS256, format: Pem, "
            f"file: \"{d}/key\"}}}}}}}}"))
        mod = self.moderator(node, s)
        req = create_channel(["org/ns/mod"])
        s.send(req)
        m = mod.recv(10)
        tok = m.metadata["SLIM_IDENTITY"]
        head, body, sig = tok.split(".")
        self.assertEqual(json.loads(b64url_decode(head))["alg"], "HS256")
        want = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        self.assertEqual(sig, b64url(want))
        claims = json.loads(b64url_decode(body))
        self.assertEqual(claims["iss"], "ctl-issuer")
        self.assertEqual(claims["sub"], "node-zero")
        self.assertIn(claims["aud"], (["apps"], "apps"))
        self.assertEqual(claims["exp"] - claims["iat"], 600)
        # It registered with a token of the same provider.
        h2, b2, s2 = s.metadata["authorization"][len("Bearer "):].split(".")
        self.assertEqual(s2, b64url(hmac.new(key, f"{h2}.{b2}".encode(),
                                             hashlib.sha256).digest()))
        mod.send(answer(m, "org/ns/mod/5", True, ["ok"]))
        self.assertTrue(acked(s, req).success)

    def test_static_jwt_token_provider(self):
        d = tempfile.mkdtemp(prefix="slim-jwt-")
        self.addCleanup(shutil.rmtree, d, True)
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64url(json.dumps({"sub": "node-zero", "exp": int(time.time()) + 3600}).encode())
        sig = b64url(hmac.new(b"k" * 32, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{sig}"
        with open(os.path.join(d, "token"), "w") as f:
            f.write(token + "\n")
        node, s = self.start(provider=f"{{static_jwt: {{file: \"{d}/token\", duration: 60}}}}")
        mod = self.moderator(node, s)
        req = create_channel(["org/ns/mod"])
        s.send(req)
        m = mod.recv(10)
        self.assertEqual(m.metadata["SLIM_IDENTITY"], token)
        self.assertEqual(s.metadata["authorization"], "Bearer " + token)

    def test_node_without_token_provider_refuses(self):
        node, s = self.start(secret=None)
        self.assertNotIn("authorization", s.metadata)
        mod = self.moderator(node, s)
        req = create_channel(["org/ns/mod"])
        s.send(req)
        a = acked(s, req)
        self.assertFalse(a.success)
        self.assertEqual(list(a.messages), [
            "the node has no controller.token_provider to sign controller requests with"])
        mod.expect_nothing(0.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
