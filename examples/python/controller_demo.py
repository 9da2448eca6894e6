"""The second half of `make run`: the user's document's controller, from
Python. Starts `slim-control-plane` and two `slim` nodes that register with
it; a moderator application connects to node slim/0 and a participant to
slim/1 (both on slim_bindings, waiting in listen_for_session()); then the
document's calls go to the controller with grpcio: CreateChannel, and
AddParticipant with the channel it returned. The moderator's messages reach
the participant across the two nodes; DeleteChannel ends the group and
everything stops.

    python3 controller_demo.py BUILD_DIR

Exits 0 when the participant heard every line, 1 otherwise.
"""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import slim_bindings
from controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc

SECRET = "a-demo-secret-shared-by-the-apps-and-nodes"
MODERATOR = "agntcy/namespace/moderator"
PARTICIPANT = "agntcy/namespace/participant_1"
LINES = 3


def step(text):
    print(f"\n== {text}", flush=True)


def say(who, text):
    print(f"{who:>28} | {text}", flush=True)


def start(cmd, pattern, workdir, log_name):
    """Starts a process and waits for the lines matching pattern (a list of
    regexes, one port each); returns (process, ports)."""
    log = open(os.path.join(workdir, log_name), "wb")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    ports = []
    deadline = time.monotonic() + 20
    while len(ports) < len(pattern) and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        m = re.search(pattern[len(ports)], line)
        if m:
            ports.append(int(m.group(1)))
    if len(ports) < len(pattern):
        p.kill()
        sys.exit(f"{cmd[0]} did not start; see {os.path.join(workdir, log_name)}")
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p, ports


def node_config(workdir, name, sb_port):
    path = os.path.join(workdir, f"node-{name}.yaml")
    with open(path, "w") as f:
        f.write("services:\n"
                f"  slim/{name}:\n"
                "    dataplane:\n"
                "      servers: [{endpoint: \"127.0.0.1:0\", tls: {insecure: true}}]\n"
                "    controller:\n"
                f"      clients: [{{endpoint: \"http://127.0.0.1:{sb_port}\", "
                "tls: {insecure: true}}]\n"
                f"      token_provider: {{shared_secret: \"{SECRET}\"}}\n")
    return path


def name(text):
    p = text.split("/")
    return slim_bindings.PyName(p[0], p[1], p[2])


async def new_app(who, port):
    provider = slim_bindings.PyIdentityProvider.SharedSecret(identity=who, shared_secret=SECRET)
    verifier = slim_bindings.PyIdentityVerifier.SharedSecret(identity=who, shared_secret=SECRET)
    app = await slim_bindings.Slim.new(name(who), provider, verifier)
    await app.connect({"endpoint": f"http://127.0.0.1:{port}", "tls": {"insecure": True}})
    return app


def controller_calls(address, out):
    """The document's two channel calls, as it writes them."""
    channel = grpc.insecure_channel(address)
    client = controlplane_pb2_grpc.ControlPlaneServiceStub(channel)
    try:
        response = client.CreateChannel(controlplane_pb2.CreateChannelRequest(
            moderators=[MODERATOR]), timeout=90)
        channel_id = response.channel_id
        say("controller client", f"Channel created with ID: {channel_id}")
        ack = client.AddParticipant(controlplane_pb2.AddParticipantRequest(
            participant_id=PARTICIPANT, channel_id=channel_id), timeout=90)
        say("controller client",
            f"ACK received for {ack.original_message_id}: success={ack.success}")
        out["channel_id"] = channel_id
        out["ok"] = ack.success
    except grpc.RpcError as e:
        say("controller client", f"Request failed: {e.code().name}: {e.details()}")
        out["ok"] = False
    finally:
        channel.close()


def delete_channel(address, channel_id):
    with grpc.insecure_channel(address) as channel:
        client = controlplane_pb2_grpc.ControlPlaneServiceStub(channel)
        ack = client.DeleteChannel(controlplane_pb2.DeleteChannelRequest(channel_id=channel_id),
                                   timeout=90)
        say("controller client", f"DeleteChannel: success={ack.success}")


async def run(nb_port, ports):
    step(f"the moderator connects to slim/0, the participant to slim/1; both wait for a group")
    mod = await new_app(MODERATOR, ports[0])
    part = await new_app(PARTICIPANT, ports[1])
    mod_wait = asyncio.ensure_future(mod.listen_for_session())
    part_wait = asyncio.ensure_future(part.listen_for_session())
    await asyncio.sleep(1.0)  # the nodes report the two apps to the controller

    step("the controller creates a channel and adds the participant (the document's calls)")
    out = {}
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, controller_calls, f"127.0.0.1:{nb_port}", out)
    if not out.get("ok"):
        return False
    ms = await asyncio.wait_for(mod_wait, 30)
    say(MODERATOR, f"-> the controller made me moderator of {ms.dst}")
    ps = await asyncio.wait_for(part_wait, 30)
    say(PARTICIPANT, f"-> invited into {ps.dst}")

    step("the moderator talks; the participant hears it across the two nodes")
    heard = 0
    for i in range(1, LINES + 1):
        text = f"hello from the moderator ({i}/{LINES})"
        await ms.publish(text.encode())
        say(MODERATOR, f"-> {text}")
        ctx, payload = await asyncio.wait_for(ps.get_message(), 30)
        say(PARTICIPANT, f"<- {ctx.source_name.components_strings()[2]}: {payload.decode()}")
        heard += 1

    step("the controller deletes the channel")
    await loop.run_in_executor(None, delete_channel, f"127.0.0.1:{nb_port}", out["channel_id"])
    await mod.close()
    await part.close()
    say(PARTICIPANT, f"heard {heard} of {LINES} lines through the controller's group")
    return heard == LINES


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    workdir = tempfile.mkdtemp(prefix="slim-controller-demo-")
    procs = []
    try:
        step("starting slim-control-plane and two nodes that register with it")
        cfg = os.path.join(workdir, "controller.yaml")
        with open(cfg, "w") as f:
            f.write("northbound: {httpHost: 127.0.0.1, httpPort: 0}\n"
                    "southbound: {httpHost: 127.0.0.1, httpPort: 0}\n"
                    f"database: {{path: \"{workdir}/controller.db\"}}\n")
        cp, (sb, nb) = start([os.path.join(build, "apps", "slim-control-plane"), "--config", cfg],
                             [r"listening southbound \S+:(\d+)", r"listening northbound \S+:(\d+)"],
                             workdir, "controller.log")
        procs.append(cp)
        say("slim-control-plane", f"northbound :{nb}, southbound :{sb}")
        ports = []
        for n in ("0", "1"):
            p, (port,) = start([os.path.join(build, "apps", "slim"), "--config",
                                node_config(workdir, n, sb)],
                               [r"listening dataplane \S+:(\d+)"], workdir, f"node-{n}.log")
            procs.append(p)
            ports.append(port)
            say(f"slim/{n}", f"data plane :{port}, registered with the controller")
        ok = asyncio.run(run(nb, ports))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
        step("Done: the controller's group ended and every program stopped")
    else:
        print(f"controller demo failed; logs in {workdir}", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
