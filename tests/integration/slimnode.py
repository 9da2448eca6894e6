"""Helpers for integration tests: start real `slim` node processes and talk
to them over gRPC with grpcio (an implementation we did not write), using
stubs generated from our proto.

Environment (set by ctest): SLIM_BIN (the node binary), SLIM_PYDIR (the
generated Python stubs).

Header MACs: a Link offers an X25519 key in its negotiation (unless
mac=False), derives the link key when the node answers with one, tags every
Publish/Subscribe/Unsubscribe it sends and checks the tag of everything it
receives. The MAC is computed here from the layout in
docs/protocol.md ("Header MAC"), with Python's hmac and hashlib and
python3-cryptography's X25519, independently of the node's C code.

shared_secret_token() makes the shared-secret tokens of docs/identity.md
("Tokens") with hmac and hashlib, for the tests that play a node, a
controller or an operator presenting one.
"""
import base64
import hashlib
import hmac
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.environ["SLIM_PYDIR"])

import grpc  # noqa: E402
import xxhash  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import x25519  # noqa: E402
from data_plane.v1 import data_plane_pb2 as pb  # noqa: E402
from hdrmac_ref import MAC_HKDF_INFO, header_mac, hkdf_sha256, routed_header  # noqa: E402

METHOD = "/dataplane.proto.v1.DataPlaneService/OpenChannel"
ANY = 2**64 - 1
EDGE = pb.LINK_CONNECTION_TYPE_EDGE
REMOTE = pb.LINK_CONNECTION_TYPE_REMOTE
PEER = pb.LINK_CONNECTION_TYPE_PEER


def b64u(raw):
    """Unpadded URL-safe base64, as tokens use it."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def shared_secret_token(secret, ident, at=None):
    """A shared-secret token for provider id `ident` (docs/identity.md,
    "Tokens"), made at unix time `at` (now by default): its pubkey claim is
    a random P-256-sized point nobody reads here."""
    nonce = b64u(os.urandom(12))
    pubkey = base64.b64encode(b"\x04" + os.urandom(64)).decode()
    claims = b64u(json.dumps({"pubkey": pubkey}, separators=(",", ":")).encode())
    body = f"{ident}:{int(time.time() if at is None else at)}:{nonce}:{claims}"
    mac = b64u(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}:{mac}"


def component_hash(s):
    """Upstream SLIM's name hash: XXH64(seed 0) of the UTF-8 bytes and 0xFF."""
    return xxhash.xxh64(s.encode() + b"\xff", seed=0).intdigest()


def name(text, with_strings=True):
    """A pb.Name from "org/ns/svc" or "org/ns/svc/<id as int or hex>"."""
    parts = text.split("/")
    n = pb.Name()
    n.name.component_0 = component_hash(parts[0])
    n.name.component_1 = component_hash(parts[1])
    n.name.component_2 = component_hash(parts[2])
    ident = (ANY << 64) | ANY
    if len(parts) == 4:
        ident = int(parts[3].replace("-", ""), 16)
    n.name.name_id.id_0 = ident >> 64
    n.name.name_id.id_1 = ident & (2**64 - 1)
    if with_strings:
        n.str_name.str_component_0 = parts[0]
        n.str_name.str_component_1 = parts[1]
        n.str_name.str_component_2 = parts[2]
    return n


def subscribe(dst, src="agntcy/test/client", sub_id=0, ttl=8, unsubscribe=False):
    m = pb.Message()
    s = m.unsubscribe if unsubscribe else m.subscribe
    s.header.source.CopyFrom(name(src))
    s.header.destination.CopyFrom(name(dst))
    s.header.fanout = 1
    s.header.ttl = ttl
    s.subscription_id = sub_id
    return m


def publish(src, dst, payload=b"", fanout=1, ttl=8, session_id=1, message_id=1):
    m = pb.Message()
    h = m.publish.header
    h.source.CopyFrom(name(src))
    h.destination.CopyFrom(name(dst))
    h.fanout = fanout
    h.ttl = ttl
    m.publish.session.session_type = pb.SESSION_TYPE_POINT_TO_POINT
    m.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_MSG
    m.publish.session.session_id = session_id
    m.publish.session.message_id = message_id
    m.publish.msg.app_payload.payload_type = "msg"
    m.publish.msg.app_payload.blob = payload
    return m


class Node:
    """A `slim` process with a generated config; stops on close().
    control_endpoint: the config has controller.servers; wait for their
    "listening controller" line too (self.control_port)."""

    def __init__(self, extra_dataplane="", clients=(), extra_top="", node_name="0", env=None,
                 server_tls="{insecure: true}", client_yaml=None, control_endpoint=False):
        self.dir = tempfile.mkdtemp(prefix="slim-node-")
        self.config = os.path.join(self.dir, "config.yaml")
        if client_yaml is None:
            client_yaml = "".join(
                f"        - endpoint: \"http://127.0.0.1:{p}\"\n" for p in clients)
        with open(self.config, "w") as f:
            f.write('metrics: {endpoint: "127.0.0.1:0"}\n')
            f.write(extra_top)
            f.write("services:\n"
                    f"  slim/{node_name}:\n"
                    "    dataplane:\n"
                    "      servers:\n"
                    "        - endpoint: \"127.0.0.1:0\"\n"
                    f"          tls: {server_tls}\n")
            if client_yaml:
                f.write("      clients:\n" + client_yaml)
            f.write(extra_dataplane)
        self.log_path = os.path.join(self.dir, "node.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.environ["SLIM_BIN"], "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     env=dict(os.environ, SLIM_LOG="info", **(env or {})))
        self.port = self.metrics_port = self.control_port = None
        deadline = time.time() + 20
        while time.time() < deadline and (self.metrics_port is None or
                                          (control_endpoint and self.control_port is None)):
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.match(r"listening (dataplane|metrics|controller) 127\.0\.0\.1:(\d+)", line)
            if m and m.group(1) == "dataplane" and self.port is None:
                self.port = int(m.group(2))
            elif m and m.group(1) == "metrics":
                self.metrics_port = int(m.group(2))
            elif m and self.control_port is None:
                self.control_port = int(m.group(2))
        if self.port is None or self.metrics_port is None:
            self.close()
            with open(self.log_path, errors="replace") as f:
                raise RuntimeError("node did not start: " + f.read())
        # Keep draining stdout so the node never blocks on a full pipe.
        self.stdout_lines = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line.decode(errors="replace"))

    def counters(self, timeout=10):
        """The node's /metrics page as a dict: 'slim_subscriptions' ->
        value, 'slim_messages_dropped_total{reason="ttl"}' -> value."""
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                            timeout=5) as r:
                    return parse_metrics(r.read().decode())
            except OSError as e:
                if time.time() > deadline:
                    raise AssertionError(f"/metrics did not answer: {e}") from None
                time.sleep(0.05)

    def metric(self, name, **labels):
        """One series, such as metric("slim_messages_dropped_total",
        reason="ttl"); 0 when the page does not have it."""
        return self.counters().get(series(name, **labels), 0)

    def wait_counter(self, name, at_least, timeout=10, **labels):
        """Polls /metrics until the series reaches at_least; returns the page."""
        key = series(name, **labels)
        deadline = time.time() + timeout
        while True:
            c = self.counters()
            if c.get(key, 0) >= at_least:
                return c
            if time.time() > deadline:
                raise AssertionError(f"{key} stayed below {at_least}: {c.get(key)}")
            time.sleep(0.05)

    def stderr(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        return self.proc.wait(timeout=timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def series(name, **labels):
    """The key of one series in parse_metrics' dict."""
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def parse_metrics(text):
    """Prometheus text format -> {series: number} (labels sorted by name)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$", key)
        assert m, line
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(2) or ""))
        out[series(m.group(1), **labels)] = float(value) if "." in value else int(value)
    return out


class Link:
    """One OpenChannel stream to a node, from grpcio. Sends a Link first
    (unless link=False) and checks the reply."""

    def __init__(self, port, conn_type=EDGE, link=True, node_id="test-client", read=True,
                 credentials=None, host="127.0.0.1", wait=20, mac=True):
        # Each Link its own TCP connection, as each application has (grpcio
        # would otherwise share one connection among channels to a target).
        opts = [("grpc.use_local_subchannel_pool", 1)]
        if credentials is None:
            self.channel = grpc.insecure_channel(f"{host}:{port}", options=opts)
        else:
            self.channel = grpc.secure_channel(f"{host}:{port}", credentials, options=opts)
        self.out = queue.Queue()
        self.inbox = queue.Queue()
        self.error = None
        self.raw_log = []  # every received message as bytes, in order
        self.done = threading.Event()
        self.mac_key = None  # the link key, once negotiated
        self.mac_errors = []  # received messages whose tag was missing or wrong
        self.tags = conn_type in (EDGE, REMOTE)
        rpc = self.channel.stream_stream(METHOD, request_serializer=None,
                                         response_deserializer=None)
        self.call = rpc(self._requests())
        if read:
            threading.Thread(target=self._reader, daemon=True).start()
        self.link_id = str(uuid.uuid4())
        if link:
            m = pb.Message()
            ln = m.link.link_negotiation
            ln.link_id = self.link_id
            ln.slim_version = "0.0.1-test"
            ln.is_reply = False
            ln.connection_type = conn_type
            ln.node_id = node_id
            sk = x25519.X25519PrivateKey.generate()
            if mac:
                ln.link_ecdh_public_key = sk.public_key().public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.send(m)
            reply = self.recv(wait) if read else pb.Message.FromString(next(self.call))
            assert reply.HasField("link"), reply
            assert reply.link.link_negotiation.is_reply
            assert reply.link.link_negotiation.link_id == self.link_id
            self.reply = reply.link.link_negotiation
            peer = self.reply.link_ecdh_public_key
            if mac and len(peer) == 32:
                shared = sk.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
                self.mac_key = hkdf_sha256(self.link_id.encode(), shared, MAC_HKDF_INFO)

    def _requests(self):
        while True:
            item = self.out.get()
            if item is None:
                return
            yield item

    def _reader(self):
        try:
            for raw in self.call:
                self.raw_log.append(raw)
                m = pb.Message.FromString(raw)
                h = routed_header(m)
                if self.mac_key is not None and self.tags and h is not None:
                    tag = h.header_mac
                    h2 = type(h)()
                    h2.CopyFrom(h)
                    h2.ClearField("header_mac")
                    if not hmac.compare_digest(tag, header_mac(self.mac_key, self.link_id, h2)):
                        self.mac_errors.append(m)
                        continue
                self.inbox.put(m)
        except grpc.RpcError as e:
            self.error = e
        finally:
            self.done.set()

    def send(self, m, tag=True):
        """Sends a message (bytes go as they are). On a link with a key, a
        Publish/Subscribe/Unsubscribe gets its header MAC unless tag=False
        or it already has one."""
        if not isinstance(m, bytes):
            h = routed_header(m)
            if tag and self.mac_key is not None and self.tags and h is not None \
                    and not h.HasField("header_mac"):
                h.header_mac = header_mac(self.mac_key, self.link_id, h)
            m = m.SerializeToString()
        self.out.put(m)

    def recv(self, timeout=5):
        try:
            m = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing received within {timeout}s (stream error: "
                                 f"{self.error}; messages with a bad header MAC: "
                                 f"{len(self.mac_errors)})") from None
        if self.mac_errors:
            raise AssertionError(f"the node sent a bad header MAC: {self.mac_errors[0]}")
        return m

    def expect_nothing(self, wait=0.5):
        try:
            m = self.inbox.get(timeout=wait)
        except queue.Empty:
            if self.mac_errors:
                raise AssertionError(f"the node sent a bad header MAC: {self.mac_errors[0]}")
            return
        raise AssertionError(f"unexpected message: {m}")

    def subscribe(self, dst, sub_id=0, **kw):
        """Subscribes and, with a sub_id, waits for and returns the ack."""
        self.send(subscribe(dst, sub_id=sub_id, **kw))
        if sub_id:
            ack = self.recv()
            assert ack.HasField("subscription_ack"), ack
            assert ack.subscription_ack.subscription_id == sub_id
            return ack.subscription_ack
        return None

    def close(self):
        self.out.put(None)
        self.call.cancel()
        self.channel.close()


def make_certs():
    """Test certificates (CA, server for localhost/127.0.0.1, client) in a
    temporary folder, made by tests/transport_certs.sh with openssl."""
    d = tempfile.mkdtemp(prefix="slim-certs-")
    script = os.path.join(os.path.dirname(__file__), "..", "transport_certs.sh")
    subprocess.run(["sh", script, d], check=True, capture_output=True, timeout=60)
    return d


def read(path):
    with open(path, "rb") as f:
        return f.read()
