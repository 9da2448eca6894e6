"""The Python side of bench/python/run.py: apps of the Python bindings
(slim_bindings, the public API only: Slim, PySession) through one node, doing
what the C programs do, and printing the same "RESULT key=value ..." lines.

Usage (PYTHONPATH=BUILD/bindings/python, Debian's /usr/bin/python3):

  bench_py.py responder PORT SIZE NAME [--event-queue E]
  bench_py.py requester PORT N SIZE MODE PEER [WARMUP] [--event-queue E]
  bench_py.py group PORT N SIZE MODE [--mls] [--window W] [--members M] [--event-queue E]

responder / requester: the Python twins of bench/python/bench_rr.c (either
side pairs with the other's C or Python one). The responder prints READY once
connected, takes one session (listen_for_session) and answers every message
with publish_to(ctx, SIZE bytes). The requester opens a UNICAST session to PEER
("org/ns/service") and times `await session.publish(request)` plus
`await session.get_message()` of the reply, one in flight, N rounds after
WARMUP (default 100): p50/p90/p99, publish's own p50, and the CPU per round
trip of the main thread (the asyncio loop and the caller) and of the rest of
the process (the app's libslim loop thread).

group: bench/client/bench_group.c's `slim` mode in Python: M members (default
10, as bench_group), each its own process (this file, `member`), the moderator
(member 0) creates a MULTICAST session (MODE "reliable": timeout 1 s,
max_retries 5; "unreliable": 0 retries), invites the others (each waiting in
listen_for_session), then publishes N messages of SIZE bytes keeping up to W
(default 256) publishes in flight as bench_app.h's bench_send does (W
coroutines each awaiting one publish at a time; after a publish refused with
E_QUEUE_FULL, one in flight, one more for each taken: _Sender); every other
member reads with `await session.get_message()` and counts
distinct messages, duplicates and its own, as bench_group does (the 24-byte
header: sequence, publisher, CLOCK_MONOTONIC time of the publish). A member
that hears nothing for 3 s stops short. The rate is the distinct deliveries
over all receivers divided by the time from the first publish to the last
delivery; the CPU per delivery is every member process's CPU (all threads,
from the start signal to the end of its data) over the deliveries.

BENCH_PY_PROFILE=DIR: every process but the group's parent runs under
cProfile and writes DIR/<role>-<pid>.prof (read with pstats).

--event-queue E (a diagnosis, not what users get): the apps are made with
libslim's option event_queue E (create_pyservice's options) instead of the
default 65 536. Every result reaches Python as a libslim event, and the event
ring (824 bytes an event) is touched page by page on its first pass: with
E = 1024 it stays in a few hot pages, which shows what that first pass costs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import os
import struct
import subprocess
import sys
import threading
import time

from slim_bindings import (
    PyIdentityProvider,
    PyIdentityVerifier,
    PyName,
    PySessionConfiguration,
    Slim,
    create_pyservice,
)

SECRET = "bench-client-shared-secret-of-32-characters-or-more"  # bench_app.h's
WARMUP = 100
HDR = 24  # sequence (8), publisher (4), unused (4), time (8): bench_group's
QUIET_S = 3.0
WAIT_S = 120.0
HEADER = struct.Struct("<QI4xQ")


def name_of(text: str) -> PyName:
    return PyName(*text.split("/"))


EVENT_QUEUE = 0  # --event-queue: 0 for libslim's default


async def new_app(text: str, port: int) -> Slim:
    """An app named text ("org/ns/service") with a shared-secret identity (the
    C programs' secret and identity: the name's text), connected to the node."""
    prov = PyIdentityProvider.SharedSecret(identity=text, shared_secret=SECRET)
    ver = PyIdentityVerifier.SharedSecret(identity=text, shared_secret=SECRET)
    if EVENT_QUEUE:
        svc = await create_pyservice(name_of(text), prov, ver, {"event_queue": EVENT_QUEUE})
        app = Slim(svc, name_of(text))
    else:
        app = await Slim.new(name_of(text), prov, ver)
    await app.connect({"endpoint": f"http://127.0.0.1:{port}", "tls": {"insecure": True}})
    return app


def cpu_now() -> tuple[float, float]:
    """CPU seconds of the whole process (all threads) and of this thread."""
    return time.process_time(), time.thread_time()


def pct(sorted_values, q: float) -> float:
    return sorted_values[int(len(sorted_values) * q)]


# ---- request/reply ---------------------------------------------------------


async def responder(port: int, size: int, text: str) -> None:
    app = await new_app(text, port)
    print("READY", flush=True)
    session = await app.listen_for_session()
    reply = b"y" * size
    try:
        while True:
            ctx, _ = await session.get_message()
            await session.publish_to(ctx, reply)
    except Exception:  # the session ended: the requester deleted it
        pass
    await app.close()


async def requester(port: int, n: int, size: int, reliable: bool, peer: str,
                    warmup: int = WARMUP) -> None:
    app = await new_app(f"bench/pyrr/pytx-{os.getpid()}", port)
    await app.set_route(name_of(peer))
    if reliable:
        cfg = PySessionConfiguration.Unicast(
            name_of(peer), timeout=datetime.timedelta(milliseconds=1000), max_retries=10
        )
    else:
        cfg = PySessionConfiguration.Unicast(name_of(peer))
    session = await app.create_session(cfg)
    body = b"x" * (size - 8)
    rounds = n + warmup
    lat = [0.0] * rounds
    pub = [0.0] * rounds
    clock = time.monotonic_ns
    c0 = cpu_now()
    for i in range(rounds):
        if i == warmup:
            c0 = cpu_now()
        req = i.to_bytes(8, "little") + body
        t = clock()
        await session.publish(req)
        t1 = clock()
        await session.get_message()
        t2 = clock()
        pub[i] = (t1 - t) / 1000.0
        lat[i] = (t2 - t) / 1000.0
    c1 = cpu_now()
    caller = (c1[1] - c0[1]) * 1e6 / n
    loop = ((c1[0] - c0[0]) - (c1[1] - c0[1])) * 1e6 / n
    lat = sorted(lat[warmup:])
    pub = sorted(pub[warmup:])
    print(
        f"RESULT system=py mode=rr reliable={int(reliable)} rounds={n} warmup={warmup} "
        f"size={size} event_queue={EVENT_QUEUE} "
        f"p50_us={pct(lat, 0.5):.1f} p90_us={pct(lat, 0.9):.1f} p99_us={pct(lat, 0.99):.1f} "
        f"publish_p50_us={pct(pub, 0.5):.1f} caller_cpu_us={caller:.2f} loop_cpu_us={loop:.2f}",
        flush=True,
    )
    await session.delete()
    await app.close()


# ---- group -----------------------------------------------------------------


def member_name(idx: int, tag: int) -> str:
    return f"bench/pygroup/m{idx}-{tag}"


async def read_token(loop) -> str:
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if not line:
        raise SystemExit("the parent went away")
    return line.strip()


class Tally:
    """What a receiver counts (bench_group's tally_one)."""

    def __init__(self, idx: int, members: int, n: int, want: int):
        self.idx, self.members, self.n, self.want = idx, members, n, want
        self.seen = bytearray(members * n)
        self.got = self.dups = self.own = self.other = 0
        self.last_rx = 0
        self.quiet = 0


async def receive(session, t: Tally) -> None:
    unpack = HEADER.unpack_from
    clock = time.monotonic_ns
    n, members, me, seen = t.n, t.members, t.idx, t.seen
    while t.got < t.want:
        _, p = await session.get_message()
        t.last_rx = clock()
        if len(p) < HDR:
            t.other += 1
            continue
        seq, pub, _sent = unpack(p)
        if pub >= members or seq >= n:
            t.other += 1
        elif pub == me:
            t.own += 1
        elif seen[pub * n + seq]:
            t.dups += 1
        else:
            seen[pub * n + seq] = 1
            t.got += 1


async def receive_watched(session, t: Tally) -> None:
    """receive(), stopped when nothing came for QUIET_S (bench_group's
    get_message timeout, without a timer per message)."""
    task = asyncio.ensure_future(receive(session, t))
    last = (-1, -1)
    while not task.done():
        await asyncio.wait([task], timeout=QUIET_S)
        now = (t.got + t.dups + t.own + t.other, t.last_rx)
        if not task.done() and now == last:
            t.quiet = 1
            print(f"bench_py: member {t.idx} stopped at {t.got} of {t.want}", file=sys.stderr)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return
        last = now
    task.result()


class _Sender:
    """bench_app.h's bench_send in asyncio: up to `window` publishes in flight;
    one refused with E_QUEUE_FULL (a reliable session's window of
    unacknowledged messages is full, or the app's link) goes again later, and
    from then on one publish is in flight (after a wait of 20 us doubling to
    1 ms while they are refused when none is), one more for each taken, up to
    the window. `window` coroutines publish, each one message at a time; those
    beyond the limit wait for room."""

    def __init__(self, session, n: int, size: int, window: int, idx: int):
        self.session, self.n, self.window, self.idx = session, n, window, idx
        self.body = b"x" * (size - HDR)
        self.next = 0
        self.retry = collections.deque()  # refused sequence numbers
        self.in_flight = 0
        self.limit = window
        self.parked = collections.deque()  # futures of coroutines waiting for room
        self.queue_full = 0
        self.wait = 20e-6

    def _wake(self) -> None:
        room = self.limit - self.in_flight
        while room > 0 and self.parked:
            f = self.parked.popleft()
            if not f.done():
                f.set_result(None)
                room -= 1

    async def worker(self) -> None:
        loop = asyncio.get_running_loop()
        pack, clock, publish = HEADER.pack, time.monotonic_ns, self.session.publish
        while True:
            while self.in_flight >= self.limit:
                f = loop.create_future()
                self.parked.append(f)
                await f
            if self.retry:
                seq = self.retry.popleft()
            elif self.next < self.n:
                seq = self.next
                self.next += 1
            else:
                return
            self.in_flight += 1
            try:
                await publish(pack(seq, self.idx, clock()) + self.body)
            except Exception as e:
                self.in_flight -= 1
                if "QUEUE_FULL" not in str(e):
                    raise
                self.queue_full += 1
                self.retry.append(seq)
                self.limit = 1
                if self.in_flight == 0:
                    await asyncio.sleep(self.wait)
                    self.wait = min(self.wait * 2, 1e-3)
                self._wake()
                continue
            self.in_flight -= 1
            if self.limit < self.window:
                self.limit += 1
            self.wait = 20e-6
            if self.parked:
                self._wake()


async def send(session, n: int, size: int, window: int, idx: int, out: dict) -> None:
    """n publishes, up to `window` in flight (_Sender)."""
    s = _Sender(session, n, size, window, idx)
    out["first_pub"] = time.monotonic_ns()
    workers = [asyncio.ensure_future(s.worker()) for _ in range(min(window, n))]
    try:
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()
    out["queue_full"] = s.queue_full


async def member(idx: int, port: int, n: int, size: int, reliable: bool, mls: bool, window: int,
                 members: int, tag: int) -> None:
    loop = asyncio.get_running_loop()
    app = await new_app(member_name(idx, tag), port)
    out = {"idx": idx, "first_pub": 0, "queue_full": 0}
    if idx == 0:
        await read_token(loop)  # 'i': the others listen
        t0 = time.monotonic()
        cfg = PySessionConfiguration.Multicast(
            name_of(f"bench/pygroup/chan-{tag}"),
            max_retries=5 if reliable else 0,
            timeout=datetime.timedelta(milliseconds=1000),
            mls_enabled=mls,
        )
        session = await app.create_session(cfg)
        for i in range(1, members):
            other = name_of(member_name(i, tag))
            await app.set_route(other)
            await session.invite(other)
        out["setup_s"] = time.monotonic() - t0
        print("r", flush=True)
    else:
        print("r", flush=True)
        session = await app.listen_for_session(timeout=datetime.timedelta(seconds=120))
    await read_token(loop)  # 'g'
    c0 = time.process_time()
    t = Tally(idx, members, n, 0 if idx == 0 else n)
    if idx == 0:
        await send(session, n, size, window, idx, out)
    else:
        await receive_watched(session, t)
    out["cpu_s"] = time.process_time() - c0
    counters = app._svc._app.counters()
    out.update(got=t.got, dups=t.dups, own=t.own, other=t.other, quiet=t.quiet,
               last_rx=t.last_rx, want=t.want,
               dropped=counters["messages_dropped"],
               rx_drops=counters["drop_identity"] + counters["drop_malformed"]
               + counters["drop_other"])
    print("d " + json.dumps(out), flush=True)
    if idx == 0:
        await read_token(loop)  # 'c': all are done
        t0 = time.monotonic()
        try:
            await session.delete()
        except Exception as e:
            print(f"bench_py: closing the group: {e}", file=sys.stderr)
        print(json.dumps({"close_s": time.monotonic() - t0}), flush=True)
    else:
        try:  # until the moderator ends the group
            while True:
                await asyncio.wait_for(session.get_message(), 10)
        except Exception:
            pass
    await app.close()


def group(port: int, n: int, size: int, reliable: bool, mls: bool, window: int,
          members: int) -> None:
    """The parent: starts the members, steps them through, prints RESULT."""
    tag = os.getpid()
    procs = []
    for i in range(members):
        args = [sys.executable, os.path.abspath(__file__), "member", str(i), str(port), str(n),
                str(size), "reliable" if reliable else "unreliable", str(window), str(members),
                str(tag), "--event-queue", str(EVENT_QUEUE)] + (["--mls"] if mls else [])
        procs.append(subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True))
    timer = threading.Timer(WAIT_S * 3, lambda: [p.kill() for p in procs])
    timer.daemon = True
    timer.start()

    def line(i: int) -> str:
        s = procs[i].stdout.readline()
        if not s:
            for p in procs:
                p.kill()
            sys.exit(f"bench_py group: member {i} failed")
        return s.strip()

    def token(i: int, t: str) -> None:
        procs[i].stdin.write(t + "\n")
        procs[i].stdin.flush()

    try:
        for i in range(1, members):
            line(i)  # connected
        token(0, "i")
        line(0)  # the group is made
        for i in range(members):
            token(i, "g")
        res = [json.loads(line(i)[2:]) for i in range(members)]
        token(0, "c")
        close = json.loads(line(0))
        for p in procs:
            p.wait(timeout=60)
    finally:
        timer.cancel()
        for p in procs:
            if p.poll() is None:
                p.kill()
    got = sum(r["got"] for r in res)
    want = sum(r["want"] for r in res)
    first = min(r["first_pub"] for r in res if r["first_pub"])
    last = max(r["last_rx"] for r in res)
    secs = (last - first) / 1e9 if last > first else 1e-9
    cpu = sum(r["cpu_s"] for r in res)
    rx_cpu = sum(r["cpu_s"] for r in res if r["idx"] != 0)
    div = got if got > 0 else 1
    tot = {k: sum(r[k] for r in res) for k in ("dups", "own", "other", "quiet", "dropped",
                                                "rx_drops", "queue_full")}
    print(
        f"RESULT system=py members={members} publishers=1 reliable={int(reliable)} "
        f"mls={int(mls)} msgs={n} size={size} event_queue={EVENT_QUEUE} deliveries={got} "
        f"delivery_rate={got / secs:.0f} lost={want - got} dups={tot['dups']} own={tot['own']} "
        f"other={tot['other']} dropped={tot['dropped']} queue_full={tot['queue_full']} "
        f"rx_drops={tot['rx_drops']} quiet={tot['quiet']} cpu_us={cpu * 1e6 / div:.2f} "
        f"rx_cpu_us={rx_cpu * 1e6 / div:.2f} pub_cpu_us={(cpu - rx_cpu) * 1e6 / div:.2f} "
        f"setup_s={res[0].get('setup_s', 0):.3f} close_s={close['close_s']:.3f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("responder")
    r.add_argument("port", type=int)
    r.add_argument("size", type=int)
    r.add_argument("name")
    q = sub.add_parser("requester")
    q.add_argument("port", type=int)
    q.add_argument("n", type=int)
    q.add_argument("size", type=int)
    q.add_argument("mode", choices=("reliable", "unreliable"))
    q.add_argument("peer")
    q.add_argument("warmup", type=int, nargs="?", default=WARMUP)
    g = sub.add_parser("group")
    g.add_argument("port", type=int)
    g.add_argument("n", type=int)
    g.add_argument("size", type=int)
    g.add_argument("mode", choices=("reliable", "unreliable"))
    g.add_argument("--mls", action="store_true")
    g.add_argument("--window", type=int, default=256)
    g.add_argument("--members", type=int, default=10)
    m = sub.add_parser("member")  # started by `group`
    for k in ("idx", "port", "n", "size"):
        m.add_argument(k, type=int)
    m.add_argument("mode", choices=("reliable", "unreliable"))
    for k in ("window", "members", "tag"):
        m.add_argument(k, type=int)
    m.add_argument("--mls", action="store_true")
    for p in (r, q, g, m):
        p.add_argument("--event-queue", type=int, default=0)
    a = ap.parse_args()
    global EVENT_QUEUE
    EVENT_QUEUE = a.event_queue
    prof = os.environ.get("BENCH_PY_PROFILE")
    if prof and a.cmd != "group":  # cProfile of this process into the folder prof
        import cProfile

        p = cProfile.Profile()
        p.enable()
        try:
            run(a)
        finally:
            p.disable()
            role = f"{a.cmd}{a.idx}" if a.cmd == "member" else a.cmd
            p.dump_stats(os.path.join(prof, f"{role}-{os.getpid()}.prof"))
        return
    run(a)


def run(a) -> None:
    if a.cmd == "responder":
        asyncio.run(responder(a.port, a.size, a.name))
    elif a.cmd == "requester":
        asyncio.run(requester(a.port, a.n, a.size, a.mode == "reliable", a.peer, a.warmup))
    elif a.cmd == "group":
        if a.size < HDR:
            sys.exit(f"SIZE: at least {HDR}")
        group(a.port, a.n, a.size, a.mode == "reliable", a.mls, a.window, a.members)
    else:
        asyncio.run(member(a.idx, a.port, a.n, a.size, a.mode == "reliable", a.mls, a.window,
                           a.members, a.tag))


if __name__ == "__main__":
    main()
