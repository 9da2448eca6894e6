"""slimctl's TLS and token options, and its node-connect commands, against
servers played by grpcio (an implementation we did not write):

- a controller's northbound (ControlPlaneService.ListNodes) over TLS, with
  and without client certificates, that records the `authorization`
  metadata it got: the options as flags, in the config file and in the
  environment;
- a node's control endpoint (ControllerService.OpenControlChannel) that
  records the ControlMessage slimctl sends and answers as src/control/
  agent.c does (a config_command_ack with per-item statuses, list
  responses in chunks whose last one says done), and checks the
  shared-secret token slimctl mints (docs/identity.md, "Tokens").

Environment (set by ctest): SLIMCTL_BIN (the program), SLIM_PYDIR (the
generated Python stubs); PYTHONPATH holds tests/integration (make_certs).
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent import futures

sys.path.insert(0, os.environ["SLIM_PYDIR"])

import grpc  # noqa: E402
from controller.v1 import controller_pb2, controller_pb2_grpc  # noqa: E402
from controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc  # noqa: E402
from slimnode import make_certs  # noqa: E402

SLIMCTL = os.environ["SLIMCTL_BIN"]
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CERTS = None


def setUpModule():
    global CERTS
    CERTS = make_certs()


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


def read(name):
    with open(cert(name), "rb") as f:
        return f.read()


def server_creds(require_client_auth=False):
    return grpc.ssl_server_credentials(
        [(read("server.key"), read("server.pem"))],
        root_certificates=read("ca.pem") if require_client_auth else None,
        require_client_auth=require_client_auth)


class ServerTest(unittest.TestCase):
    """A grpcio server (started by the subclass) and slimctl runs."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.home = os.path.join(self.tmp.name, "home")
        os.makedirs(self.home)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.release = threading.Event()

    def tearDown(self):
        self.release.set()
        self.server.stop(0)
        self.tmp.cleanup()

    def listen(self, secure=False, require_client_auth=False):
        if secure:
            port = self.server.add_secure_port("127.0.0.1:0", server_creds(require_client_auth))
        else:
            port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.addr = f"127.0.0.1:{port}"

    def run_raw(self, *args, env=None, timeout=30):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SLIMCTL_")}
        e["HOME"] = self.home
        e.pop("SLIM_LOG", None)
        e.update(env or {})
        return subprocess.run([SLIMCTL, *args], capture_output=True, text=True, env=e,
                              timeout=timeout)

    def ctl(self, *args, rc=0, **kw):
        p = self.run_raw(*args, **kw)
        self.assertEqual(p.returncode, rc, f"args {args}: stdout {p.stdout!r} stderr {p.stderr!r}")
        return p

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path


# ---- the controller's northbound over TLS ----

class FakeControlPlane(controlplane_pb2_grpc.ControlPlaneServiceServicer):
    def __init__(self):
        self.lock = threading.Lock()
        self.metadata = []  # one dict per call

    def ListNodes(self, request, context):
        with self.lock:
            self.metadata.append(dict(context.invocation_metadata()))
        return controlplane_pb2.NodeListResponse(entries=[
            controlplane_pb2.NodeEntry(id="slim/7", status=controlplane_pb2.CONNECTED)])


class Northbound(ServerTest):
    def start(self, require_client_auth=False, secure=True):
        self.fake = FakeControlPlane()
        controlplane_pb2_grpc.add_ControlPlaneServiceServicer_to_server(self.fake, self.server)
        self.listen(secure=secure, require_client_auth=require_client_auth)

    def auth(self):
        with self.fake.lock:
            self.assertEqual(len(self.fake.metadata), 1, self.fake.metadata)
            return self.fake.metadata[0].get("authorization")

    def listed(self, p):
        self.assertIn("slim/7", p.stdout)

    def test_ca_and_token(self):
        self.start()
        p = self.ctl("node", "list", "-s", self.addr, "--tls-ca", cert("ca.pem"),
                     "--token", "s3cret-token")
        self.listed(p)
        self.assertEqual(self.auth(), "Bearer s3cret-token")

    def test_https_server_with_ca(self):
        self.start()
        p = self.ctl("node", "list", "-s", f"https://{self.addr}", "--tls-ca", cert("ca.pem"))
        self.listed(p)
        self.assertIsNone(self.auth())

    def test_system_roots_only_refuse_the_certificate(self):
        self.start()
        p = self.ctl("node", "list", "-s", f"https://{self.addr}", "--timeout", "5s", rc=1)
        self.assertRegex(p.stderr.lower(), "certificate")
        self.assertEqual(p.stdout, "")
        # A CA that did not sign the server's certificate: refused too.
        p = self.ctl("node", "list", "-s", self.addr, "--tls-ca", cert("other-ca.pem"),
                     "--timeout", "5s", rc=1)
        self.assertRegex(p.stderr.lower(), "certificate")

    def test_insecure_skips_verification(self):
        self.start()
        self.listed(self.ctl("node", "list", "-s", self.addr, "--tls-insecure"))
        self.listed(self.ctl("node", "list", "-s", f"https://{self.addr}", "--tls-insecure"))

    def test_client_certificate(self):
        self.start(require_client_auth=True)
        p = self.ctl("node", "list", "-s", self.addr, "--tls-ca", cert("ca.pem"),
                     "--timeout", "5s", rc=1)
        self.assertTrue(p.stderr.startswith("slimctl: "), p.stderr)
        p = self.ctl("node", "list", "-s", self.addr, "--tls-ca", cert("ca.pem"),
                     "--tls-cert", cert("other-client.pem"), "--tls-key",
                     cert("other-client.key"), "--timeout", "5s", rc=1)
        self.listed(self.ctl("node", "list", "-s", self.addr, "--tls-ca", cert("ca.pem"),
                             "--tls-cert", cert("client.pem"), "--tls-key", cert("client.key"),
                             "--token", "t1"))
        with self.fake.lock:
            self.assertEqual([m.get("authorization") for m in self.fake.metadata], ["Bearer t1"])

    def test_config_file(self):
        self.start(require_client_auth=True)
        path = self.write("cfg.yaml", f"""
server: {self.addr}
timeout: 10s
tls:
  ca_file: {cert("ca.pem")}
  cert_file: {cert("client.pem")}
  key_file: {cert("client.key")}
token: from-file
""")
        p = self.ctl("node", "list", "--config", path)
        self.listed(p)
        self.assertEqual(p.stderr, "")
        self.assertEqual(self.auth(), "Bearer from-file")

    def test_token_from_a_file(self):
        self.start(secure=False)
        tok = self.write("nb.token", "file-token\n")
        path = self.write("cfg.yaml", f"server: {self.addr}\ntoken: ${{file:{tok}}}\n")
        self.listed(self.ctl("node", "list", "--config", path))
        self.assertEqual(self.auth(), "Bearer file-token")

    def test_config_file_insecure(self):
        self.start()
        path = self.write("cfg.yaml", f"server: https://{self.addr}\ntls:\n  insecure: true\n")
        self.listed(self.ctl("node", "list", "--config", path))

    def test_upstreams_config_file_stays_plaintext(self):
        # upstream's slimctl: a bare server and insecure: true is plaintext.
        self.start(secure=False)
        path = self.write("cfg.yaml", f"server: {self.addr}\ntls:\n  insecure: true\n")
        self.listed(self.ctl("node", "list", "--config", path))

    def test_environment(self):
        self.start(require_client_auth=True)
        env = {"SLIMCTL_SERVER": self.addr, "SLIMCTL_TLS_CA": cert("ca.pem"),
               "SLIMCTL_TLS_CERT": cert("client.pem"), "SLIMCTL_TLS_KEY": cert("client.key"),
               "SLIMCTL_TOKEN": "from-env"}
        self.listed(self.ctl("node", "list", env=env))
        # The flags win over the environment.
        self.listed(self.ctl("node", "list", "--token", "from-flag", env=env))
        with self.fake.lock:
            self.assertEqual([m.get("authorization") for m in self.fake.metadata],
                             ["Bearer from-env", "Bearer from-flag"])

    def test_environment_insecure(self):
        self.start()
        https = f"https://{self.addr}"
        self.listed(self.ctl("node", "list", "-s", https, env={"SLIMCTL_TLS_INSECURE": "1"}))
        self.listed(self.ctl("node", "list", "-s", https, env={"SLIMCTL_TLS_INSECURE": "true"}))
        self.ctl("node", "list", "-s", https, "--timeout", "3s",
                 env={"SLIMCTL_TLS_INSECURE": "false"}, rc=1)
        # Alone, with a bare server, it is upstream's plaintext: no handshake.
        self.ctl("node", "list", "-s", self.addr, "--timeout", "3s",
                 env={"SLIMCTL_TLS_INSECURE": "1"}, rc=1)

    def test_plaintext_token(self):
        self.start(secure=False)
        self.listed(self.ctl("node", "list", "-s", self.addr, "--token", "plain"))
        self.assertEqual(self.auth(), "Bearer plain")

    def test_plaintext_with_upstreams_insecure_true(self):
        self.start(secure=False)
        path = self.write("cfg.yaml", f"server: http://{self.addr}\ntls:\n  insecure: true\n")
        self.listed(self.ctl("node", "list", "--config", path))

    def test_token_wins_over_shared_secret(self):
        self.start(secure=False)
        self.ctl("node", "list", "-s", self.addr, "--token", "tk", "--shared-secret", "x" * 32)
        self.assertEqual(self.auth(), "Bearer tk")

    def test_usage_errors(self):
        self.start()
        bad = [
            ["--tls-cert", cert("client.pem")],
            ["--tls-key", cert("client.key")],
            ["-s", f"http://{self.addr}", "--tls-ca", cert("ca.pem")],
            ["-s", f"http://{self.addr}", "--tls-insecure"],
            ["--tls-ca", os.path.join(self.tmp.name, "missing.pem")],
            ["--token", ""],
            ["--tls-insecure=yes"],
        ]
        for args in bad:
            p = self.ctl("node", "list", *args, rc=2)
            self.assertTrue(p.stderr.startswith("slimctl: "), p.stderr)
        p = self.ctl("node", "list", "-s", self.addr, env={"SLIMCTL_TLS_INSECURE": "maybe"}, rc=2)
        self.assertIn("SLIMCTL_TLS_INSECURE", p.stderr)
        path = self.write("cfg.yaml", "tls:\n  insecure: maybe\n")
        self.ctl("node", "list", "--config", path, rc=2)
        with self.fake.lock:
            self.assertEqual(self.fake.metadata, [])

    def test_help_lists_the_options(self):
        out = self.ctl("--help").stdout
        for opt in ("--tls-ca", "--tls-cert", "--tls-key", "--tls-insecure", "--token",
                    "--shared-secret", "SLIMCTL_TLS_CA", "node-connect route add"):
            self.assertIn(opt, out)


# ---- a node's control endpoint ----

SUB = controller_pb2.SubscriptionEntry
CONN = controller_pb2.ConnectionEntry


class FakeNode(controller_pb2_grpc.ControllerServiceServicer):
    """Answers one ControlMessage per stream as agent.c does, then keeps the
    stream open (slimctl must stop at the answer, not at the stream's end)."""

    def __init__(self, release):
        self.lock = threading.Lock()
        self.requests = []
        self.metadata = []
        self.release = release
        self.fail_subscription = False
        self.list_chunks = None  # for subscription_list_request: [(entries, done)]

    def OpenControlChannel(self, request_iterator, context):
        md = dict(context.invocation_metadata())
        for req in request_iterator:
            with self.lock:
                self.requests.append(req)
                self.metadata.append(md)
            for ans in self.answer(req):
                yield ans
            self.release.wait(30)
            return

    def answer(self, req):
        mid = req.message_id
        kind = req.WhichOneof("payload")
        if kind == "config_command":
            cmd = req.config_command
            ack = controller_pb2.ConfigurationCommandAck(original_message_id=mid)
            for c in cmd.connections_to_create:
                ack.connections_status.add(id=c.connection_id, success=True)
            subs = list(cmd.subscriptions_to_set) + list(cmd.subscriptions_to_delete)
            for s in subs:
                label = f"{s.component_0}/{s.component_1}/{s.component_2}"
                if s.HasField("id"):
                    label += "/" + s.id
                label += " via " + s.connection_id
                if self.fail_subscription:
                    ack.subscriptions_status.add(
                        id=label, success=False,
                        error_msg=f'unknown connection "{s.connection_id}"')
                else:
                    ack.subscriptions_status.add(id=label, success=True)
            yield controller_pb2.ControlMessage(message_id="n-1", config_command_ack=ack)
        elif kind == "subscription_list_request":
            # An answer to another request first: not ours, to be ignored.
            yield controller_pb2.ControlMessage(
                message_id="n-0", subscription_list_response=controller_pb2.SubscriptionListResponse(
                    entries=[SUB(component_0="x", component_1="y", component_2="z")],
                    original_message_id="someone-else", done=True))
            for i, (entries, done) in enumerate(self.list_chunks):
                yield controller_pb2.ControlMessage(
                    message_id=f"n-{i + 1}",
                    subscription_list_response=controller_pb2.SubscriptionListResponse(
                        entries=entries, original_message_id=mid, done=done))
        elif kind == "connection_list_request":
            yield controller_pb2.ControlMessage(
                message_id="n-1", connection_list_response=controller_pb2.ConnectionListResponse(
                    entries=[
                        CONN(id=1, connection_type=controller_pb2.CONNECTION_TYPE_LOCAL,
                             config_data="{}", peer="127.0.0.1:5000"),
                        CONN(id=2, connection_type=controller_pb2.CONNECTION_TYPE_REMOTE,
                             config_data='{"endpoint": "http://10.0.0.2:46357"}',
                             connection_id="http://10.0.0.2:46357", peer="10.0.0.2:46357"),
                    ], original_message_id=mid, done=True))


class NodeConnect(ServerTest):
    def setUp(self):
        super().setUp()
        self.node = FakeNode(self.release)
        controller_pb2_grpc.add_ControllerServiceServicer_to_server(self.node, self.server)

    def one_request(self, kind):
        with self.node.lock:
            self.assertEqual(len(self.node.requests), 1, self.node.requests)
            req = self.node.requests[0]
        self.assertRegex(req.message_id, UUID_RE)
        self.assertEqual(req.WhichOneof("payload"), kind)
        return req

    def nc(self, *args, rc=0, **kw):
        return self.ctl("node-connect", self.addr, *args, rc=rc, **kw)

    def check_sub(self, s, endpoint):
        self.assertEqual((s.component_0, s.component_1, s.component_2),
                         ("org", "ns", "app"))
        self.assertTrue(s.HasField("id"))
        self.assertEqual(s.id, "00000000-0000-0000-0000-000000000007")
        self.assertEqual(s.connection_id, endpoint)

    def test_route_add_via_endpoint(self):
        self.listen()
        t0 = time.monotonic()
        p = self.nc("route", "add", "org/ns/app/7", "via", "http://127.0.0.1:1234")
        self.assertLess(time.monotonic() - t0, 10)
        cmd = self.one_request("config_command").config_command
        self.assertEqual(len(cmd.connections_to_create), 1)
        c = cmd.connections_to_create[0]
        self.assertEqual(c.connection_id, "http://127.0.0.1:1234")
        self.assertEqual(json.loads(c.config_data), {"endpoint": "http://127.0.0.1:1234"})
        self.assertEqual(len(cmd.subscriptions_to_set), 1)
        self.check_sub(cmd.subscriptions_to_set[0], "http://127.0.0.1:1234")
        self.assertEqual(len(cmd.subscriptions_to_delete), 0)
        self.assertEqual(len(cmd.connections_to_delete), 0)
        self.assertEqual(p.stdout.splitlines(), [
            "connection http://127.0.0.1:1234: ok",
            "subscription org/ns/app/00000000-0000-0000-0000-000000000007 via "
            "http://127.0.0.1:1234: ok"])
        self.assertEqual(p.stderr, "")

    def test_route_add_failed_item(self):
        self.listen()
        self.node.fail_subscription = True
        p = self.nc("route", "add", "org/ns/app/7", "via", "http://127.0.0.1:1234", rc=1)
        self.assertIn("connection http://127.0.0.1:1234: ok", p.stdout)
        self.assertIn('failed: unknown connection "http://127.0.0.1:1234"', p.stdout)
        self.assertIn("1 of 2 items failed", p.stderr)

    def test_route_add_json_output(self):
        self.listen()
        p = self.nc("route", "add", "org/ns/app/7", "via", "http://127.0.0.1:1234", "-o", "json")
        doc = json.loads(p.stdout)
        self.assertEqual(doc["connections_status"][0]["id"], "http://127.0.0.1:1234")
        self.assertTrue(doc["subscriptions_status"][0]["success"])

    def test_route_add_via_file(self):
        self.listen()
        text = '{"endpoint": "https://10.0.0.9:46357", "tls": {"insecure_skip_verify": true}}'
        path = self.write("peer.json", text)
        self.nc("route", "add", "org/ns/app/7", "via", path)
        cmd = self.one_request("config_command").config_command
        c = cmd.connections_to_create[0]
        self.assertEqual(c.connection_id, "https://10.0.0.9:46357")
        self.assertEqual(c.config_data, text)
        self.check_sub(cmd.subscriptions_to_set[0], "https://10.0.0.9:46357")

    def test_route_del(self):
        self.listen()
        p = self.nc("route", "del", "org/ns/app/7", "via", "http://127.0.0.1:1234")
        cmd = self.one_request("config_command").config_command
        self.assertEqual(len(cmd.connections_to_create), 0)
        self.assertEqual(len(cmd.subscriptions_to_set), 0)
        self.assertEqual(len(cmd.subscriptions_to_delete), 1)
        self.check_sub(cmd.subscriptions_to_delete[0], "http://127.0.0.1:1234")
        self.assertIn("subscription org/ns/app/00000000-0000-0000-0000-000000000007 via "
                      "http://127.0.0.1:1234: ok", p.stdout)

    def test_route_list_in_two_chunks(self):
        self.listen()
        local = CONN(id=1, connection_type=controller_pb2.CONNECTION_TYPE_LOCAL)
        remote = CONN(id=4, connection_type=controller_pb2.CONNECTION_TYPE_REMOTE)
        self.node.list_chunks = [
            ([SUB(component_0="org", component_1="ns", component_2="alice",
                  id="00000000-0000-0000-0000-00000000002a", local_connections=[local])], False),
            ([SUB(component_0="org", component_1="ns", component_2="bob",
                  remote_connections=[remote])], True),
        ]
        t0 = time.monotonic()
        p = self.nc("route", "list")
        self.assertLess(time.monotonic() - t0, 10)
        self.one_request("subscription_list_request")
        rows = [line.split() for line in p.stdout.strip().splitlines()]
        self.assertEqual(rows, [["NAME", "LOCAL", "REMOTE"],
                                ["org/ns/alice/00000000-0000-0000-0000-00000000002a", "1", "-"],
                                ["org/ns/bob", "-", "4"]])
        doc = json.loads(self.ctl("nc", "route", "ls", "-s", self.addr, "-o", "json").stdout)
        self.assertEqual([e["component_2"] for e in doc["entries"]], ["alice", "bob"])

    def test_route_list_without_the_last_chunk_times_out(self):
        self.listen()
        self.node.list_chunks = [([SUB(component_0="a", component_1="b", component_2="c")],
                                  False)]
        t0 = time.monotonic()
        p = self.nc("route", "list", "--timeout", "1s", rc=1)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("DEADLINE_EXCEEDED", p.stderr)

    def test_connection_list(self):
        self.listen()
        p = self.nc("connection", "list")
        self.one_request("connection_list_request")
        lines = p.stdout.strip().splitlines()
        self.assertEqual(lines[0].split(), ["ID", "TYPE", "CONNECTION", "ID", "PEER", "CONFIG"])
        self.assertEqual(lines[1].split(), ["1", "LOCAL", "-", "127.0.0.1:5000", "{}"])
        self.assertEqual(lines[2].split(), ["2", "REMOTE", "http://10.0.0.2:46357",
                                            "10.0.0.2:46357",
                                            '{"endpoint":"http://10.0.0.2:46357"}'])
        doc = json.loads(self.nc("conn", "ls", "-o", "json").stdout)
        self.assertEqual([e["id"] for e in doc["entries"]], ["1", "2"])

    def test_shared_secret_token(self):
        self.listen()
        secret = "a-shared-secret-of-32-bytes-or-more!"
        before = int(time.time())
        self.set_chunks()
        self.nc("route", "list", "--shared-secret", secret)
        after = int(time.time())
        with self.node.lock:
            auth = self.node.metadata[0].get("authorization")
        self.assertTrue(auth.startswith("Bearer "), auth)
        token = auth[len("Bearer "):]
        head, mac = token.rsplit(":", 1)
        want = base64.urlsafe_b64encode(
            hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()).rstrip(b"=")
        self.assertEqual(mac.encode(), want)
        ident, ts, nonce, claims = head.split(":")
        self.assertRegex(ident, r"^slimctl_[A-Za-z0-9]{8}$")
        self.assertTrue(before - 5 <= int(ts) <= after + 5, (before, ts, after))
        self.assertEqual(len(base64.urlsafe_b64decode(nonce + "==")), 12)
        self.assertIn("pubkey", json.loads(base64.urlsafe_b64decode(claims + "==")))
        # The secret never travels.
        self.assertNotIn(secret, auth)

    def test_shared_secret_from_config_and_environment(self):
        self.listen()
        self.set_chunks()
        secret = "s" * 40
        path = self.write("cfg.yaml", f"shared_secret: {secret}\n")
        self.nc("route", "list", "--config", path)
        self.nc("route", "list", env={"SLIMCTL_SHARED_SECRET": secret})
        with self.node.lock:
            auths = [m.get("authorization") for m in self.node.metadata]
        self.assertEqual(len(auths), 2)
        for auth in auths:
            head, mac = auth[len("Bearer "):].rsplit(":", 1)
            self.assertTrue(head.startswith("slimctl_"), head)
            want = base64.urlsafe_b64encode(
                hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()).rstrip(b"=")
            self.assertEqual(mac.encode(), want)

    def set_chunks(self):
        self.node.list_chunks = [([], True)]
        return True

    def test_over_tls_with_endpoint_argument(self):
        self.listen(secure=True, require_client_auth=True)
        self.set_chunks()
        p = self.ctl("nc", f"https://{self.addr}", "route", "list", "--tls-ca", cert("ca.pem"),
                     "--tls-cert", cert("client.pem"), "--tls-key", cert("client.key"),
                     "--token", "node-token")
        self.assertEqual(p.stdout.split(), ["NAME", "LOCAL", "REMOTE"])
        with self.node.lock:
            self.assertEqual(self.node.metadata[0].get("authorization"), "Bearer node-token")

    def test_default_server_is_not_the_controllers(self):
        self.listen()
        self.set_chunks()
        # SLIMCTL_SERVER names the controller: node-connect does not use it.
        p = self.ctl("nc", "route", "list", "--timeout", "2s",
                     env={"SLIMCTL_SERVER": self.addr}, rc=1)
        self.assertIn("127.0.0.1:46358", p.stderr)
        self.ctl("nc", "route", "list", "-s", self.addr)

    def test_usage_errors(self):
        self.listen()
        missing = os.path.join(self.tmp.name, "missing.json")
        noep = self.write("noep.json", '{"tls": {}}')
        notjson = self.write("peer.txt", '{"endpoint": "http://1.2.3.4:5"}')
        bad = [
            ["route", "add", "org/ns/app/7", "via", missing],
            ["route", "add", "org/ns/app/7", "via", noep],
            ["route", "add", "org/ns/app/7", "via", notjson],
            ["route", "add", "org/ns/app/7", "to", "http://127.0.0.1:1234"],
            ["route", "add", "org/ns", "via", "http://127.0.0.1:1234"],
            ["route", "add", "org/ns/app/xyz", "via", "http://127.0.0.1:1234"],
            ["route", "add", "org/ns/app/7", "via"],
            ["route", "del", "org/ns/app/7", "via", "http://"],
            ["route", "frob"],
            ["route"],
            ["connection", "list", "extra"],
        ]
        for args in bad:
            p = self.nc(*args, rc=2)
            self.assertTrue(p.stderr.startswith("slimctl: "), (args, p.stderr))
        self.ctl("nc", self.addr, "route", "list", "-s", self.addr, rc=2)
        with self.node.lock:
            self.assertEqual(self.node.requests, [])

    def test_help(self):
        out = self.ctl("node-connect", "--help").stdout
        self.assertIn("ENDPOINT", out)
        self.assertIn("route add", out)
        out = self.ctl("nc", "route", "add", "--help").stdout
        self.assertIn("node-connect [ENDPOINT] route add NAME via ENDPOINT|FILE.json", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
