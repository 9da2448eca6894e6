"""Integration tests of `slimctl` against a fake controller.

The fake is a grpcio server (an implementation we did not write) of
controlplane.proto.v1.ControlPlaneService on a free loopback port. It records
every request it gets and answers with what the test put in `responses`: a
message, an error (code, text), or HANG (never answers). Each test runs the
real slimctl binary and checks the request fields it sent, what it printed
and its exit status.

Environment (set by ctest): SLIMCTL_BIN (the program), SLIM_PYDIR (the
generated Python stubs).
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent import futures

sys.path.insert(0, os.environ["SLIM_PYDIR"])

import grpc  # noqa: E402
from controller.v1 import controller_pb2  # noqa: E402
from controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc  # noqa: E402
from grpc_api import grpc_api_pb2  # noqa: E402

SLIMCTL = os.environ["SLIMCTL_BIN"]
HANG = "hang"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

# The default answer of every method the fake serves.
DEFAULTS = {
    "ListNodes": controlplane_pb2.NodeListResponse,
    "ListConnections": controller_pb2.ConnectionListResponse,
    "ListSubscriptions": controller_pb2.SubscriptionListResponse,
    "ListRoutes": controlplane_pb2.RouteListResponse,
    "AddRoute": lambda: controlplane_pb2.AddRouteResponse(success=True, route_id="r-1"),
    "DeleteRoute": lambda: controlplane_pb2.DeleteRouteResponse(success=True),
    "CreateChannel": lambda: controlplane_pb2.CreateChannelResponse(channel_id="org/ns/ch-1"),
    "DeleteChannel": lambda: controller_pb2.Ack(success=True, messages=["channel deleted"]),
    "AddParticipant": lambda: controller_pb2.Ack(success=True, messages=["participant added"]),
    "DeleteParticipant": lambda: controller_pb2.Ack(success=True),
    "ListChannels": controlplane_pb2.ListChannelsResponse,
    "ListParticipants": controlplane_pb2.ListParticipantsResponse,
}


class FakeControlPlane(controlplane_pb2_grpc.ControlPlaneServiceServicer):
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (method, request message)
        self.responses = {}  # method -> message | (grpc.StatusCode, text) | HANG
        self.release = threading.Event()

    def answer(self, method, request, context):
        with self.lock:
            self.requests.append((method, request))
            r = self.responses.get(method)
        if r is None:
            return DEFAULTS[method]()
        if r == HANG:
            self.release.wait(30)
            context.abort(grpc.StatusCode.CANCELLED, "test over")
        if isinstance(r, tuple):
            context.abort(r[0], r[1])
        return r


def _method(name):
    def handler(self, request, context):
        return self.answer(name, request, context)
    return handler


for _name in DEFAULTS:
    setattr(FakeControlPlane, _name, _method(_name))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlimctlTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeControlPlane()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        controlplane_pb2_grpc.add_ControlPlaneServiceServicer_to_server(self.fake, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.addr = f"127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory()
        self.home = os.path.join(self.tmp.name, "home")
        os.makedirs(self.home)

    def tearDown(self):
        self.fake.release.set()
        self.server.stop(0)
        self.tmp.cleanup()

    # ---- helpers ----

    def run_raw(self, *args, env=None, timeout=20):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SLIMCTL_")}
        e["HOME"] = self.home
        e.pop("SLIM_LOG", None)
        e.update(env or {})
        return subprocess.run([SLIMCTL, *args], capture_output=True, text=True, env=e,
                              timeout=timeout)

    def ctl(self, *args, rc=0, **kw):
        """slimctl with -s pointing at the fake; checks the exit status."""
        p = self.run_raw(*args, "-s", self.addr, **kw)
        self.assertEqual(p.returncode, rc, f"args {args}: stdout {p.stdout!r} stderr {p.stderr!r}")
        return p

    def requests(self, method=None):
        with self.fake.lock:
            return [r for m, r in self.fake.requests if method is None or m == method]

    def one_request(self, method):
        got = self.requests()
        self.assertEqual(len(got), 1, f"requests: {self.fake.requests}")
        self.assertEqual(self.fake.requests[0][0], method)
        return got[0]

    def table(self, out):
        """Rows of an aligned table: each line cut at the header's columns."""
        lines = out.rstrip("\n").split("\n")
        header = lines[0]
        starts = [0] + [m.start() for m in re.finditer(r"(?<=   )\S", header)]
        rows = []
        for line in lines:
            cells = []
            for i, s in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else len(line)
                cells.append(line[s:end].strip())
            rows.append(cells)
        return rows

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class Nodes(SlimctlTest):
    def nodes(self):
        cd = controller_pb2.ConnectionDetails
        return controlplane_pb2.NodeListResponse(entries=[
            controlplane_pb2.NodeEntry(
                id="slim/0", status=controlplane_pb2.CONNECTED,
                last_seen="2026-12-05T10:00:00Z",
                connections=[cd(endpoint="127.0.0.1:46357"),
                             cd(endpoint="10.0.0.1:46367", mtls_required=True,
                                local_endpoint="10.0.0.1")]),
            controlplane_pb2.NodeEntry(id="slim/1", status=controlplane_pb2.NOT_CONNECTED),
        ])

    def test_node_list_table(self):
        self.fake.responses["ListNodes"] = self.nodes()
        p = self.ctl("node", "list")
        self.assertIsInstance(self.one_request("ListNodes"), controlplane_pb2.NodeListRequest)
        rows = self.table(p.stdout)
        self.assertEqual(rows, [
            ["ID", "STATUS", "ENDPOINTS", "LAST SEEN"],
            ["slim/0", "CONNECTED", "127.0.0.1:46357, 10.0.0.1:46367 (tls)",
             "2026-12-05T10:00:00Z"],
            ["slim/1", "NOT_CONNECTED", "-", "-"],
        ])
        self.assertEqual(p.stderr, "")

    def test_node_list_aliases(self):
        self.ctl("nodes", "ls")
        self.ctl("node", "ls")
        self.assertEqual(len(self.requests("ListNodes")), 2)

    def test_empty_list_prints_the_header_only(self):
        p = self.ctl("node", "list")
        self.assertEqual(p.stdout.split(), ["ID", "STATUS", "ENDPOINTS", "LAST", "SEEN"])

    def test_node_list_json(self):
        self.fake.responses["ListNodes"] = self.nodes()
        p = self.ctl("node", "list", "-o", "json")
        doc = json.loads(p.stdout)
        e0, e1 = doc["entries"]
        self.assertEqual(e0["id"], "slim/0")
        self.assertEqual(e0["status"], "CONNECTED")
        self.assertEqual(e1["status"], "NOT_CONNECTED")
        self.assertEqual(e0["connections"][0], {"endpoint": "127.0.0.1:46357",
                                                "mtls_required": False})
        self.assertEqual(e0["connections"][1]["local_endpoint"], "10.0.0.1")
        self.assertTrue(e0["connections"][1]["mtls_required"])
        self.assertEqual(e1["connections"], [])

    def test_connection_list(self):
        ce = controller_pb2.ConnectionEntry
        self.fake.responses["ListConnections"] = controller_pb2.ConnectionListResponse(entries=[
            ce(id=12345678901234567890, connection_type=controller_pb2.CONNECTION_TYPE_REMOTE,
               config_data='{\n  "endpoint": "http://10.0.0.2:46357"\n}',
               connection_id="http://10.0.0.2:46357", peer="10.0.0.2:46357"),
            ce(id=3, connection_type=controller_pb2.CONNECTION_TYPE_LOCAL, config_data="{}"),
        ], done=True)
        p = self.ctl("connection", "list", "--node-id", "slim/0")
        self.assertEqual(self.one_request("ListConnections").id, "slim/0")
        self.assertEqual(self.table(p.stdout), [
            ["ID", "TYPE", "CONNECTION ID", "PEER", "CONFIG"],
            ["12345678901234567890", "REMOTE", "http://10.0.0.2:46357", "10.0.0.2:46357",
             '{"endpoint":"http://10.0.0.2:46357"}'],
            ["3", "LOCAL", "-", "-", "{}"],
        ])
        p = self.ctl("conn", "ls", "-n", "slim/1", "-o", "json")
        self.assertEqual(self.requests("ListConnections")[1].id, "slim/1")
        doc = json.loads(p.stdout)
        self.assertEqual(doc["entries"][0]["id"], "12345678901234567890")  # ids as text
        self.assertEqual(doc["entries"][0]["connection_type"], "CONNECTION_TYPE_REMOTE")
        self.assertTrue(doc["done"])

    def test_connection_list_needs_a_node(self):
        p = self.ctl("connection", "list", rc=2)
        self.assertIn("--node-id", p.stderr)
        self.assertEqual(self.requests(), [])

    def test_subscription_list(self):
        se, ce = controller_pb2.SubscriptionEntry, controller_pb2.ConnectionEntry
        uid = "0195c1a4-0000-7000-8000-00000000002a"
        self.fake.responses["ListSubscriptions"] = controller_pb2.SubscriptionListResponse(
            entries=[
                se(component_0="org", component_1="ns", component_2="app", id=uid,
                   local_connections=[ce(id=1), ce(id=2)], remote_connections=[ce(id=7)]),
                se(component_0="org", component_1="ns", component_2="svc",
                   remote_connections=[ce(id=4)]),
            ], done=True)
        p = self.ctl("sub", "list", "-n", "slim/0")
        self.assertEqual(self.one_request("ListSubscriptions").id, "slim/0")
        self.assertEqual(self.table(p.stdout), [
            ["NAME", "LOCAL", "REMOTE"],
            [f"org/ns/app/{uid}", "1,2", "7"],
            ["org/ns/svc", "-", "4"],
        ])
        doc = json.loads(self.ctl("subscription", "list", "-n", "slim/0", "-o", "json").stdout)
        self.assertEqual(doc["entries"][0]["id"], uid)
        self.assertNotIn("id", doc["entries"][1])  # an unset optional stays out
        self.assertEqual(doc["entries"][0]["local_connections"][1]["id"], "2")


class Routes(SlimctlTest):
    def test_route_list(self):
        re_ = controlplane_pb2.RouteEntry
        self.fake.responses["ListRoutes"] = controlplane_pb2.RouteListResponse(entries=[
            re_(route_id="r-1", node_id="slim/0", name="org/ns/app", dest_node_id="slim/1",
                connection_id="http://10.0.0.2:46357", automatic=True, status="applied"),
            re_(route_id="r-2", node_id="slim/0", name="org/ns/x", connection_id="http://h:1",
                status="pending"),
        ])
        p = self.ctl("route", "list")
        self.assertEqual(self.one_request("ListRoutes").id, "")  # all nodes
        self.assertEqual(self.table(p.stdout), [
            ["ROUTE ID", "NODE", "NAME", "VIA", "KIND", "STATUS"],
            ["r-1", "slim/0", "org/ns/app", "slim/1", "automatic", "applied"],
            ["r-2", "slim/0", "org/ns/x", "http://h:1", "manual", "pending"],
        ])
        self.ctl("route", "ls", "-n", "slim/0")
        self.assertEqual(self.requests("ListRoutes")[1].id, "slim/0")
        doc = json.loads(self.ctl("route", "list", "-o", "json").stdout)
        self.assertEqual(doc["entries"][0]["automatic"], True)
        self.assertEqual(doc["entries"][1]["dest_node_id"], "")

    def test_route_add_to_a_node(self):
        p = self.ctl("route", "add", "org/ns/app/0195c1a4-0000-7000-8000-00000000002A", "via",
                     "slim/1", "-n", "slim/0")
        self.assertEqual(p.stdout, "route added: r-1\n")
        req = self.one_request("AddRoute")
        self.assertEqual(req.node_id, "slim/0")
        self.assertEqual(req.dest_node_id, "slim/1")
        self.assertFalse(req.HasField("connection"))
        s = req.subscription
        self.assertEqual((s.component_0, s.component_1, s.component_2), ("org", "ns", "app"))
        self.assertEqual(s.id, "0195c1a4-0000-7000-8000-00000000002a")  # canonical: lower case

    def test_route_add_decimal_id_and_no_id(self):
        self.ctl("route", "add", "org/ns/app/42", "via", "slim/1", "--node-id=slim/0")
        self.ctl("route", "add", "org/ns/app/340282366920938463463374607431768211454", "via",
                 "slim/1", "-n", "slim/0")
        self.ctl("route", "add", "org/ns/app", "via", "slim/1", "-n", "slim/0")
        a, b, c = self.requests("AddRoute")
        self.assertEqual(a.subscription.id, "00000000-0000-0000-0000-00000000002a")
        self.assertEqual(b.subscription.id, "ffffffff-ffff-ffff-ffff-fffffffffffe")
        self.assertFalse(c.subscription.HasField("id"))

    def test_route_add_through_a_connection_file(self):
        text = '{\n  "endpoint": "http://10.0.0.2:46357",\n  "connect_timeout": "5s"\n}\n'
        path = self.write("peer.json", text)
        p = self.ctl("-n", "slim/0", "route", "add", "org/ns/app/7", "via", path, "-o", "json")
        self.assertEqual(json.loads(p.stdout), {"success": True, "route_id": "r-1"})
        req = self.one_request("AddRoute")
        self.assertIsInstance(req.connection, grpc_api_pb2.Connection)
        self.assertEqual(req.connection.connection_id, "http://10.0.0.2:46357")
        self.assertEqual(req.connection.config_data, text)
        self.assertEqual(req.subscription.connection_id, "http://10.0.0.2:46357")
        self.assertEqual(req.dest_node_id, "")
        self.assertEqual(req.node_id, "slim/0")

    def test_route_add_bad_files(self):
        for name, text in [("peer.yaml", '{"endpoint": "http://h:1"}'),
                           ("noep.json", '{"tls": {}}'),
                           ("empty.json", '{"endpoint": ""}'),
                           ("list.json", '["http://h:1"]'),
                           ("broken.json", '{"endpoint": ')]:
            path = self.write(name, text)
            p = self.ctl("route", "add", "org/ns/app", "via", path, "-n", "slim/0", rc=2)
            self.assertIn(name, p.stderr)
        p = self.ctl("route", "add", "org/ns/app", "via", "/no/such.json", "-n", "slim/0", rc=2)
        self.assertEqual(self.requests(), [])

    def test_route_del(self):
        p = self.ctl("route", "del", "org/ns/app/1", "via", "http://10.0.0.2:46357",
                     "-n", "slim/0")
        self.assertEqual(p.stdout, "route deleted\n")
        self.ctl("route", "del", "org/ns/app", "via", "slim/2", "-n", "slim/0")
        self.ctl("route", "del", "org/ns/app", "via", "https://h.example:443", "-n", "slim/0")
        a, b, c = self.requests("DeleteRoute")
        self.assertEqual(a.subscription.connection_id, "http://10.0.0.2:46357")
        self.assertEqual(a.dest_node_id, "")
        self.assertEqual(a.subscription.id, "00000000-0000-0000-0000-000000000001")
        self.assertEqual(a.node_id, "slim/0")
        self.assertEqual(b.dest_node_id, "slim/2")
        self.assertEqual(b.subscription.connection_id, "")
        self.assertEqual(c.subscription.connection_id, "https://h.example:443")
        doc = json.loads(self.ctl("route", "del", "org/ns/app", "via", "slim/2", "-n", "slim/0",
                                  "-o", "json").stdout)
        self.assertEqual(doc, {"success": True})

    def test_bad_names_are_usage_errors(self):
        for bad in ["org/ns", "org//app", "org/ns/app/xyz", "org/ns/app/1/2", "org/ns/app/",
                    "org/ns/app/ff", "org/ns/app/340282366920938463463374607431768211456"]:
            p = self.ctl("route", "add", bad, "via", "slim/1", "-n", "slim/0", rc=2)
            self.assertIn(bad, p.stderr)
            self.ctl("route", "del", bad, "via", "slim/1", "-n", "slim/0", rc=2)
        self.ctl("route", "add", "org/ns/app", "to", "slim/1", "-n", "slim/0", rc=2)
        self.ctl("route", "add", "org/ns/app", "via", "-n", "slim/0", rc=2)
        self.assertEqual(self.requests(), [])


class Channels(SlimctlTest):
    def test_channel_create(self):
        p = self.ctl("channel", "create", "moderators=org/ns/mod,org/ns/mod2/42")
        self.assertEqual(p.stdout, "channel created: org/ns/ch-1\n")
        self.assertEqual(p.stderr, "")
        self.assertEqual(list(self.one_request("CreateChannel").moderators),
                         ["org/ns/mod", "org/ns/mod2/00000000-0000-0000-0000-00000000002a"])
        # plain arguments, and several moderators= arguments
        self.ctl("channel", "create", "org/ns/a", "org/ns/b/0195C1A4-0000-7000-8000-00000000002A")
        self.ctl("channels", "create", "moderators=org/ns/a", "moderators=org/ns/b")
        _, b, c = self.requests("CreateChannel")
        self.assertEqual(list(b.moderators),
                         ["org/ns/a", "org/ns/b/0195c1a4-0000-7000-8000-00000000002a"])
        self.assertEqual(list(c.moderators), ["org/ns/a", "org/ns/b"])
        doc = json.loads(self.ctl("channel", "create", "org/ns/a", "-o", "json").stdout)
        self.assertEqual(doc, {"channel_id": "org/ns/ch-1"})

    def test_channel_delete(self):
        p = self.ctl("channel", "delete", "org/ns/ch-1")
        self.assertEqual(p.stdout, "channel deleted\n")
        self.assertEqual(self.one_request("DeleteChannel").channel_id, "org/ns/ch-1")
        self.fake.responses["DeleteChannel"] = controller_pb2.Ack(
            original_message_id="m-1", success=True, messages=["one", "two"])
        p = self.ctl("channel", "rm", "org/ns/ch-1")
        self.assertEqual(p.stdout, "one\ntwo\n")
        doc = json.loads(self.ctl("channel", "del", "org/ns/ch-1", "-o", "json").stdout)
        self.assertEqual(doc, {"original_message_id": "m-1", "success": True,
                               "messages": ["one", "two"]})

    def test_channel_list(self):
        self.fake.responses["ListChannels"] = controlplane_pb2.ListChannelsResponse(
            channel_id=["org/ns/ch-1", "org/ns/ch-2"])
        p = self.ctl("channel", "list")
        self.assertIsInstance(self.one_request("ListChannels"),
                              controlplane_pb2.ListChannelsRequest)
        self.assertEqual(p.stdout, "CHANNEL\norg/ns/ch-1\norg/ns/ch-2\n")
        doc = json.loads(self.ctl("channel", "ls", "-o", "json").stdout)
        self.assertEqual(doc, {"channel_id": ["org/ns/ch-1", "org/ns/ch-2"]})
        self.fake.responses["ListChannels"] = controlplane_pb2.ListChannelsResponse()
        self.assertEqual(self.ctl("channel", "list").stdout, "CHANNEL\n")

    def test_participant_add_delete(self):
        p = self.ctl("participant", "add", "org/ns/alice", "--channel-id", "org/ns/ch-1")
        self.assertEqual(p.stdout, "participant added\n")
        req = self.one_request("AddParticipant")
        self.assertEqual((req.channel_id, req.participant_id), ("org/ns/ch-1", "org/ns/alice"))
        p = self.ctl("participant", "delete", "org/ns/alice", "-c", "org/ns/ch-1")
        self.assertEqual(p.stdout, "participant deleted\n")  # an Ack without messages
        req = self.requests("DeleteParticipant")[0]
        self.assertEqual((req.channel_id, req.participant_id), ("org/ns/ch-1", "org/ns/alice"))
        doc = json.loads(self.ctl("participants", "rm", "org/ns/bob", "-corg/ns/ch-2",
                                  "-o", "json").stdout)
        self.assertEqual(doc, {"original_message_id": "", "success": True, "messages": []})
        self.assertEqual(self.requests("DeleteParticipant")[1].channel_id, "org/ns/ch-2")

    def test_participant_list(self):
        self.fake.responses["ListParticipants"] = controlplane_pb2.ListParticipantsResponse(
            participant_id=["org/ns/alice", "org/ns/bob"])
        p = self.ctl("participant", "list", "-c", "org/ns/ch-1")
        self.assertEqual(self.one_request("ListParticipants").channel_id, "org/ns/ch-1")
        self.assertEqual(self.table(p.stdout),
                         [["PARTICIPANT"], ["org/ns/alice"], ["org/ns/bob"]])
        doc = json.loads(self.ctl("participant", "ls", "--channel-id=org/ns/ch-1",
                                  "-o", "json").stdout)
        self.assertEqual(doc, {"participant_id": ["org/ns/alice", "org/ns/bob"]})

    def test_ack_false_fails(self):
        nack = controller_pb2.Ack(success=False, messages=["no such channel", "moderator gone"])
        for method, args in [("DeleteChannel", ["channel", "delete", "org/ns/ch-9"]),
                             ("AddParticipant", ["participant", "add", "org/ns/a", "-c",
                                                 "org/ns/ch-9"]),
                             ("DeleteParticipant", ["participant", "delete", "org/ns/a", "-c",
                                                    "org/ns/ch-9"])]:
            self.fake.responses[method] = nack
            p = self.ctl(*args, rc=1)
            self.assertEqual(p.stderr, "slimctl: no such channel; moderator gone\n")
            self.assertEqual(p.stdout, "")
            p = self.ctl(*args, "-o", "json", rc=1)
            self.assertEqual(p.stderr, "slimctl: no such channel; moderator gone\n")
            self.assertFalse(json.loads(p.stdout)["success"])
            self.assertEqual(len(self.requests(method)), 2)
        self.fake.responses["DeleteChannel"] = controller_pb2.Ack(success=False)
        p = self.ctl("channel", "delete", "org/ns/ch-9", rc=1)
        self.assertRegex(p.stderr, r"^slimctl: .*success: false")

    def test_server_error(self):
        self.fake.responses["CreateChannel"] = (grpc.StatusCode.NOT_FOUND, "no moderator")
        p = self.ctl("channel", "create", "org/ns/mod", rc=1)
        self.assertEqual(p.stderr, "slimctl: NOT_FOUND: no moderator\n")

    def test_usage_errors(self):
        for args in (["channel", "create"],
                     ["channel", "create", "moderators="],
                     ["channel", "create", "moderators=org/ns/a,"],
                     ["channel", "create", "org/ns"],
                     ["channel", "create", "org/ns/a/xyz"],
                     ["channel", "create", "org/ns/a", "org/ns/b/1/2"],
                     ["channel", "create", "org/ns/a", "-c", "org/ns/ch"],
                     ["channel", "delete"],
                     ["channel", "delete", "org/ns"],
                     ["channel", "delete", "org/ns/ch/1"],
                     ["channel", "delete", "org//ch"],
                     ["channel", "delete", "org/ns/a", "org/ns/b"],
                     ["channel", "list", "extra"],
                     ["channel", "list", "-c", "org/ns/ch"],
                     ["participant", "add", "org/ns/a"],
                     ["participant", "add", "org/ns/a", "-c", "org/ns"],
                     ["participant", "add", "org/ns/a", "-c", "org/ns/ch/1"],
                     ["participant", "add", "org/ns/a/1", "-c", "org/ns/ch"],
                     ["participant", "add", "org/ns", "-c", "org/ns/ch"],
                     ["participant", "add", "-c", "org/ns/ch"],
                     ["participant", "delete", "org/ns/a/1", "-c", "org/ns/ch"],
                     ["participant", "delete", "org/ns/a"],
                     ["participant", "list"],
                     ["participant", "list", "-c", "a/b"],
                     ["participant", "list", "extra", "-c", "org/ns/ch"],
                     ["participant", "list", "-c", "org/ns/ch", "-n", "slim/0"]):
            p = self.ctl(*args, rc=2)
            self.assertRegex(p.stderr, r"^slimctl: ", args)
            self.assertEqual(p.stderr.count("\n"), 1, args)
        self.assertEqual(self.requests(), [])


class Errors(SlimctlTest):
    def test_server_error(self):
        self.fake.responses["ListConnections"] = (grpc.StatusCode.NOT_FOUND,
                                                  "node slim/9 not found")
        p = self.ctl("connection", "list", "-n", "slim/9", rc=1)
        self.assertEqual(p.stderr, "slimctl: NOT_FOUND: node slim/9 not found\n")
        self.assertEqual(p.stdout, "")
        self.fake.responses["AddRoute"] = (grpc.StatusCode.INVALID_ARGUMENT, "no such node")
        p = self.ctl("route", "add", "a/b/c", "via", "slim/1", "-n", "slim/0", "-o", "json", rc=1)
        self.assertEqual(p.stderr, "slimctl: INVALID_ARGUMENT: no such node\n")

    def test_timeout(self):
        self.fake.responses["ListNodes"] = HANG
        t0 = time.monotonic()
        p = self.ctl("node", "list", "--timeout", "300ms", rc=1)
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertRegex(p.stderr, r"^slimctl: DEADLINE_EXCEEDED: ")
        self.assertEqual(len(self.requests("ListNodes")), 1)

    def test_nobody_listening(self):
        port = free_port()
        t0 = time.monotonic()
        p = self.run_raw("node", "list", "-s", f"127.0.0.1:{port}")
        self.assertEqual(p.returncode, 1)
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertRegex(p.stderr, r"^slimctl: UNAVAILABLE: .*")
        self.assertIn(f"127.0.0.1:{port}", p.stderr)

    def test_usage_errors(self):
        p = self.run_raw()
        self.assertEqual(p.returncode, 2)
        self.assertIn("Usage", p.stderr)
        for args in (["frobnicate"], ["node", "frob"], ["node", "list", "--frob"],
                     ["node", "list", "-x"], ["node", "list", "-n", "slim/0"],
                     ["node", "list", "extra"], ["node", "list", "-o", "yaml"],
                     ["node", "list", "--timeout", "soon"], ["node", "list", "-s", "nohost"],
                     ["route"], ["node", "list", "--server"]):
            p = self.run_raw(*args)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
            self.assertRegex(p.stderr, r"^slimctl: .*--help", args)
            self.assertEqual(p.stderr.count("\n"), 1, args)
        self.assertEqual(self.requests(), [])


class Settings(SlimctlTest):
    def write_home_config(self, text):
        os.makedirs(os.path.join(self.home, ".slimctl"), exist_ok=True)
        with open(os.path.join(self.home, ".slimctl", "config.yaml"), "w") as f:
            f.write(text)

    def test_config_file_in_home(self):
        self.write_home_config(f"server: {self.addr}\ntimeout: 5s\noutput: json\n")
        p = self.run_raw("node", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), {"entries": []})
        self.assertEqual(len(self.requests("ListNodes")), 1)

    def test_flag_beats_env_beats_file(self):
        dead = f"127.0.0.1:{free_port()}"
        self.write_home_config(f"server: {self.addr}\n")
        # env over file: the env's dead server is used
        p = self.run_raw("node", "list", env={"SLIMCTL_SERVER": dead})
        self.assertEqual(p.returncode, 1)
        self.assertIn("UNAVAILABLE", p.stderr)
        self.assertEqual(self.requests(), [])
        # flag over env
        p = self.run_raw("node", "list", "--server", f"http://{self.addr}",
                         env={"SLIMCTL_SERVER": dead})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.requests()), 1)
        # file over the default (nobody listens on 50051 in a test, or it is not us)
        self.write_home_config(f"server: {dead}\n")
        p = self.run_raw("node", "list", env={"SLIMCTL_SERVER": self.addr})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.requests()), 2)

    def test_timeout_layers(self):
        self.fake.responses["ListNodes"] = HANG
        self.write_home_config(f"server: {self.addr}\ntimeout: 1m\n")
        t0 = time.monotonic()
        p = self.run_raw("node", "list", env={"SLIMCTL_TIMEOUT": "250ms"})
        self.assertEqual(p.returncode, 1)
        self.assertIn("DEADLINE_EXCEEDED", p.stderr)
        self.assertLess(time.monotonic() - t0, 3.0)
        t0 = time.monotonic()
        p = self.run_raw("node", "list", "--timeout", "200ms", env={"SLIMCTL_TIMEOUT": "1m"})
        self.assertEqual(p.returncode, 1)
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_config_option(self):
        path = self.write("other.yaml", f"server: {self.addr}\n")
        self.write_home_config("server: 127.0.0.1:1\n")
        p = self.run_raw("--config", path, "route", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.requests("ListRoutes")), 1)
        p = self.run_raw("--config", os.path.join(self.tmp.name, "missing.yaml"), "route", "list")
        self.assertEqual(p.returncode, 2)
        bad = self.write("bad.yaml", "timeout: forever\n")
        p = self.run_raw("--config", bad, "route", "list")
        self.assertEqual(p.returncode, 2)
        self.assertIn("timeout", p.stderr)


class Help(SlimctlTest):
    def test_help_everywhere(self):
        paths = [[], ["node"], ["node", "list"], ["connection"], ["conn", "ls"],
                 ["subscription"], ["subscription", "list"], ["route"], ["route", "list"],
                 ["route", "add"], ["route", "del"], ["channel"], ["channel", "create"],
                 ["channel", "delete"], ["channel", "list"], ["participant"],
                 ["participant", "add"], ["participant", "delete"], ["participant", "list"],
                 ["version"]]
        for path in paths:
            for flag in ("--help", "-h"):
                p = self.run_raw(*path, flag)
                self.assertEqual(p.returncode, 0, (path, p.stderr))
                self.assertIn("Usage:", p.stdout)
                for opt in ("--server", "--timeout", "--output", "--config", "--help"):
                    self.assertIn(opt, p.stdout, (path, opt))
        p = self.run_raw("route", "add", "--help")
        self.assertIn("--node-id", p.stdout)
        self.assertIn("NAME via", p.stdout)
        for cmd in ("add", "delete", "list"):
            p = self.run_raw("participant", cmd, "--help")
            self.assertIn("--channel-id CHANNEL [options]", p.stdout)
            self.assertIn("-c, --channel-id CHANNEL", p.stdout)
        p = self.run_raw("channel", "create", "--help")
        self.assertIn("moderators=", p.stdout)
        self.assertNotIn("--channel-id", p.stdout)
        self.assertEqual(self.requests(), [])

    def test_version(self):
        p = self.run_raw("version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^slimctl \d+\.\d+\.\d+\n")
        doc = json.loads(self.run_raw("version", "-o", "json").stdout)
        self.assertRegex(doc["version"], r"^\d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main(verbosity=2)
