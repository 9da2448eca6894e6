"""A fault-injecting proxy for SLIM's data plane, for tests.

It sits between an application and a node and speaks gRPC to both: it
serves `dataplane.proto.v1.DataPlaneService/OpenChannel` and, for each
stream it accepts, opens one stream to the upstream node (over a TCP
connection of its own, as each application has) and pumps both directions.

On Publish messages, and only on them, it injects faults, each direction on
its own settings:

- drop: a Publish is not forwarded (probability `drop`);
- duplicate: a Publish that was not dropped is forwarded twice (`dup`);
- delay: each copy is held for a time drawn uniformly from `delay_ms`
  (lo, hi); with lo < hi, copies overtake one another as on a network with
  jitter; with lo == hi, order is kept;
- reorder: copies are held in a window of up to `reorder_window` and, when
  it is full (or its oldest copy has waited `reorder_hold_ms`, so that a
  quiet stream does not stall), released together in a shuffled order.
  Without delay jitter, a copy moves fewer than `reorder_window` places.

Link, Subscribe, Unsubscribe, SubscriptionAck (and anything it does not
recognise) pass untouched, at once, and in their order. They may overtake
Publishes that are being delayed or held in the window, as they would on a
path where only the data is slow.

Bytes are never re-encoded: the proxy forwards exactly the bytes it read
(grpcio with no serializer), and only reads the outer message's field
numbers to tell a Publish from the rest. That is what keeps the per-hop
header MACs valid: the link negotiation (and so the MAC key) is agreed end
to end between the application and the node, through the proxy.

Replay: every fault decision comes from random.Random seeded with
(seed, direction, stream number, and for a shuffle the batch number).
Stream numbers count the streams this proxy accepted, from 0. For each
Publish the same four numbers are drawn whatever the settings (drop, dup,
and a delay for each possible copy), so the n-th Publish of a stream gets
the same drop/dup/delay decision in every run with the same seed. A shuffle
replays exactly when its batch holds the same copies; a batch closed by the
hold timer rather than by a full window depends on timing.

Library:

    with FaultProxy(node.port, seed=7, faults=Faults(drop=0.1, dup=0.05)) as p:
        link = Link(p.port)              # slimnode.Link, through the proxy
        ...
        p.counters()["to_node"]["dropped"]
        p.set_faults(to_app=Faults(drop=0.5))  # from the next message on

Script (prints `listening faultproxy 127.0.0.1:PORT` and `seed N`; on
SIGINT/SIGTERM it stops and prints `counters {json}`, on SIGUSR1 it prints
the counters and goes on, on SIGUSR2 it ends every stream open at that
moment (as a link cut; the applications' connections stay up and they open
new streams) and goes on, on SIGHUP it starts holding every Publish both
ways (nothing is lost: they wait, and so does what comes behind them) or,
when it holds them already, lets them all go in order; it prints `hold on`
or `hold off` once it has):

    python3 faultproxy.py --upstream 127.0.0.1:46357 --seed 7 --drop 0.10 \\
        --dup 0.05 --delay-ms 5-20 --reorder-window 4 --to-app drop=0

Three more modes, for tests of what travels inside Publishes (all off by
default; none changes what the modes above do):

- dump (`dump`, a file path): every message read, both directions, is
  appended to the file as it was read (before any fault), as a record
  `direction (1 byte: 0 to_node, 1 to_app) | stream number (4 bytes, big
  endian) | length (4 bytes, big endian) | the message's bytes`, flushed at
  once;
- tamper (`tamper`: "blob" or "message-id"; `tamper_every` N,
  `tamper_dir`): in that direction, the first copy of each session
  message of type MSG (1) whose message id is a multiple of N is changed
  in place, its length kept: "blob" flips the low bit of the last byte of
  its ApplicationPayload blob, "message-id" makes its SessionHeader
  message_id one more (one less when that would change the length of its
  varint). A copy seen again (a retransmission) passes untouched. The
  per-hop header MAC does not cover these fields, so the node forwards
  them; end-to-end checks must refuse them;
- replay (`replay`: session message types, each alone or as (type, n);
  `replay_dir`): the first Publish of each of those types in that
  direction (with n, the (n+1)-th with a message id not seen before in
  that type: copies do not count) is kept, per stream; replay() (SIGWINCH
  for the script, which then prints `replayed N`) sends every kept one
  again on its stream, at once, as it was read.

Only insecure gRPC (no TLS) on both sides.
"""
import argparse
import heapq
import json
import random
import signal
import struct
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, replace

import grpc

SERVICE = "dataplane.proto.v1.DataPlaneService"
METHOD = f"/{SERVICE}/OpenChannel"
TO_NODE = "to_node"  # requests: application -> node
TO_APP = "to_app"  # responses: node -> application
DIRECTIONS = (TO_NODE, TO_APP)

# Field numbers of Message's oneof message_type (data_plane.proto).
KINDS = {1: "subscribe", 2: "unsubscribe", 3: "publish", 5: "link", 6: "subscription_ack"}

COUNTERS = ("publishes", "dropped", "duplicated", "delayed", "reordered", "forwarded",
            "control", "unsent", "tampered", "replayed")

SESSION_MSG = 1  # SessionMessageType MSG: application data
TAMPER_KINDS = ("blob", "message-id")

# gRPC options: no message size limit of our own (the node's limits apply).
GRPC_OPTIONS = [("grpc.max_receive_message_length", -1),
                ("grpc.max_send_message_length", -1)]


@dataclass(frozen=True)
class Faults:
    """Fault settings of one direction. The defaults are the issue's: 10 %
    of Publishes dropped, 5 % duplicated, no delay, no reordering."""
    drop: float = 0.10
    dup: float = 0.05
    delay_ms: tuple = (0.0, 0.0)  # (lo, hi): each copy waits uniform(lo, hi) ms
    reorder_window: int = 0  # 0 or 1: no reordering
    reorder_hold_ms: float = 20.0  # longest wait of a copy in an unfilled window

    def __post_init__(self):
        if not 0 <= self.drop <= 1 or not 0 <= self.dup <= 1:
            raise ValueError(f"drop and dup are probabilities: {self.drop}, {self.dup}")
        lo, hi = self.delay_ms
        if not 0 <= lo <= hi:
            raise ValueError(f"delay_ms must be (lo, hi) with 0 <= lo <= hi: {self.delay_ms}")
        if self.reorder_window < 0 or self.reorder_hold_ms < 0:
            raise ValueError("reorder_window and reorder_hold_ms must not be negative")


NONE = Faults(drop=0.0, dup=0.0)  # a transparent proxy


def message_kind(raw):
    """The kind of a serialized Message ('publish', 'link', ...) read from
    its outer fields only; 'other' when it has none of the oneof's fields
    and 'malformed' when the outer fields do not parse. The last oneof field
    wins, as in protobuf."""
    kind, i, n = "other", 0, len(raw)
    try:
        while i < n:
            key, i = _varint(raw, i)
            field, wire = key >> 3, key & 7
            if wire == 0:
                _, i = _varint(raw, i)
            elif wire == 1:
                i += 8
            elif wire == 2:
                length, i = _varint(raw, i)
                i += length
            elif wire == 5:
                i += 4
            else:
                return "malformed"
            if i > n or field == 0:
                return "malformed"
            if wire == 2 and field in KINDS:
                kind = KINDS[field]
    except IndexError:
        return "malformed"
    return kind


def _varint(b, i):
    shift = value = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        if c < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def _fields(b, i, n):
    """(field, wire type, value, start, end) of each field of the message
    in b[i:n]: value is the integer of a varint (else None); start and end
    bound the value's bytes (a length-delimited field's content). Raises
    IndexError when they do not parse."""
    while i < n:
        key, i = _varint(b, i)
        field, wire, start, value = key >> 3, key & 7, i, None
        if wire == 0:
            value, i = _varint(b, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            length, start = _varint(b, i)
            i = start + length
        elif wire == 5:
            i += 4
        else:
            raise IndexError("wire type")
        if i > n or field == 0:
            raise IndexError("truncated")
        yield field, wire, value, start, i


def _sub(b, span, field):
    """The (start, end) of the last length-delimited `field` of the message
    at span, or None."""
    if span is None:
        return None
    found = None
    for f, wire, _, start, end in _fields(b, span[0], span[1]):
        if f == field and wire == 2:
            found = (start, end)
    return found


def publish_info(raw):
    """What the tamper and replay modes read of a Publish: a dict with
    type, session_id, message_id (0 when absent), mid (the span of its
    varint, or None), source (the bytes of the SLIMHeader's source) and
    blob (the span of the ApplicationPayload blob, or None); None when raw
    is not a Publish or does not parse."""
    try:
        pub = _sub(raw, (0, len(raw)), 3)
        if pub is None:
            return None
        info = {"type": 0, "session_id": 0, "message_id": 0, "mid": None, "source": b""}
        header = _sub(raw, pub, 1)
        src = _sub(raw, header, 1)
        if src is not None:
            info["source"] = raw[src[0]:src[1]]
        sess = _sub(raw, pub, 2)
        if sess is not None:
            for f, wire, value, start, end in _fields(raw, sess[0], sess[1]):
                if wire == 0 and f == 2:
                    info["type"] = value
                elif wire == 0 and f == 3:
                    info["session_id"] = value
                elif wire == 0 and f == 4:
                    info["message_id"], info["mid"] = value, (start, end)
        info["blob"] = _sub(raw, _sub(raw, _sub(raw, pub, 3), 1), 2)
        return info
    except IndexError:
        return None


def _encode_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def tamper(raw, kind, info):
    """raw with the change `kind` made in place (same length), or None when
    it cannot be made (no blob, no message id)."""
    out = bytearray(raw)
    if kind == "blob":
        if info["blob"] is None or info["blob"][0] == info["blob"][1]:
            return None
        out[info["blob"][1] - 1] ^= 0x01
    else:
        if info["mid"] is None:
            return None
        start, end = info["mid"]
        v = info["message_id"]
        new = _encode_varint(v + 1)
        if len(new) != end - start:
            new = _encode_varint(v - 1)
        if len(new) != end - start:  # (v - 1 is never 0 here: 2 fits where 1 does)
            return None
        out[start:end] = new
    return bytes(out)


def _forwardable(metadata):
    """Custom metadata only: not what grpcio sets itself."""
    skip = ("user-agent", "te", "content-type")
    return tuple((k, v) for k, v in (metadata or ())
                 if not k.startswith((":", "grpc-")) and k not in skip)


class _Pipe:
    """One direction of one stream: what the proxy has read and not yet
    handed to grpcio, in the order it falls due. Bounded: put() blocks while
    `limit` messages are held (the reader stops, and so does its sender,
    through HTTP/2 flow control)."""

    def __init__(self, proxy, direction, stream_no, limit):
        self.proxy = proxy
        self.direction = direction
        self.stream_no = stream_no
        self.limit = limit
        self.cv = threading.Condition()
        self.heap = []  # (due, seq, raw, is_publish)
        self.seq = 0
        self.window = []  # (raw, delay) copies of Publishes held for reordering
        self.window_deadline = None
        self.batches = 0
        self.ended = False  # no more input: drain, then end
        self.closed = False  # end now, discard what is held
        self.status = None  # how the stream ends, for the application side

    def pending(self):
        with self.cv:
            return len(self.heap) + len(self.window)

    def put(self, raw, delays=None):
        """Queues a message: due now when delays is None (not a Publish),
        else one copy per delay (seconds). False when the pipe is closed."""
        with self.cv:
            while not self.closed and len(self.heap) + len(self.window) >= self.limit:
                self.cv.wait()
            if self.closed:
                self.proxy._count(self.direction, unsent=len(delays) if delays else 0)
                return False
            now = time.monotonic()
            faults = self.proxy.faults[self.direction]  # set_faults() may change them
            if delays is None:
                self._push(now, raw, False)
            elif faults.reorder_window > 1:
                if not self.window:
                    self.window_deadline = now + faults.reorder_hold_ms / 1000
                self.window += [(raw, d) for d in delays]
                if len(self.window) >= faults.reorder_window:
                    self._release(now)
            else:
                if self.window:  # reordering was switched off
                    self._release(now)
                for d in delays:
                    self._push(now + d, raw, True)
            self.cv.notify_all()
            return True

    def _push(self, due, raw, is_publish):
        heapq.heappush(self.heap, (due, self.seq, raw, is_publish))
        self.seq += 1

    def _release(self, now):
        """Lets the window go, shuffled."""
        order = list(range(len(self.window)))
        random.Random(f"faultproxy/{self.proxy.seed}/{self.direction}/{self.stream_no}/"
                      f"batch{self.batches}").shuffle(order)
        self.batches += 1
        moved = sum(1 for pos, i in enumerate(order) if pos != i)
        for i in order:
            raw, d = self.window[i]
            self._push(now + d, raw, True)
        self.window = []
        self.window_deadline = None
        self.proxy._count(self.direction, reordered=moved)

    def end(self, status=None):
        """No more input: what is held still goes, then the stream ends
        with status (None: OK)."""
        with self.cv:
            self.status = status
            self.ended = True
            self.cv.notify_all()

    def close(self):
        """Ends at once; what is held is discarded (counted as unsent)."""
        with self.cv:
            if self.closed:
                return
            self.closed = True
            unsent = sum(1 for e in self.heap if e[3]) + len(self.window)
            self.heap, self.window = [], []
            self.cv.notify_all()
        self.proxy._count(self.direction, unsent=unsent)

    def messages(self):
        """The messages as they fall due, until the pipe ends or closes."""
        while True:
            with self.cv:
                while True:
                    if self.closed:
                        return
                    now = time.monotonic()
                    if self.window and (self.ended or now >= self.window_deadline):
                        self._release(now)
                    held = self.proxy.holding and self.heap and self.heap[0][3]
                    if self.heap and self.heap[0][0] <= now and not held:
                        _, _, raw, is_publish = heapq.heappop(self.heap)
                        if is_publish:  # counted before pending() can say 0
                            self.proxy._count(self.direction, forwarded=1)
                        self.cv.notify_all()
                        break
                    if self.ended and not self.heap and not self.window:
                        return
                    waits = [self.heap[0][0] - now] if self.heap and not held else []
                    if self.window:
                        waits.append(self.window_deadline - now)
                    self.cv.wait(min(waits) if waits else None)
            yield raw


class _Stream:
    """One application stream and the upstream stream it is paired with."""

    def __init__(self, proxy, no, request_iterator, context):
        self.proxy = proxy
        self.no = no
        self.context = context
        self.cancelled = False
        self.pipes = {d: _Pipe(proxy, d, no, proxy.queue_limit)
                      for d in DIRECTIONS}
        self.rngs = {d: random.Random(f"faultproxy/{proxy.seed}/{d}/{no}") for d in DIRECTIONS}
        self.index = {d: 0 for d in DIRECTIONS}
        self.kept = {}  # replay mode: session message type -> the Publish kept
        self.ids = {}  # replay mode: session message type -> message ids seen (in order)
        self.channel = grpc.insecure_channel(
            proxy.upstream, options=GRPC_OPTIONS + [("grpc.use_local_subchannel_pool", 1)])
        rpc = self.channel.stream_stream(METHOD, request_serializer=None,
                                         response_deserializer=None)
        remaining = context.time_remaining()  # huge when the call has no deadline
        self.call = rpc(self.pipes[TO_NODE].messages(),
                        timeout=remaining if remaining < 86400 * 365 else None,
                        metadata=_forwardable(context.invocation_metadata()))
        self.threads = [
            threading.Thread(target=self._pump_up, args=(request_iterator,),
                             name=f"faultproxy-{no}-up", daemon=True),
            threading.Thread(target=self._pump_down, name=f"faultproxy-{no}-down", daemon=True),
        ]
        for t in self.threads:
            t.start()
        if not context.add_callback(self._app_done):
            self._app_done()

    def _inject(self, direction, raw):
        """Decides the faults of one message and queues what survives."""
        raw = self.proxy._inspect(self, direction, raw)
        if message_kind(raw) != "publish":
            self.proxy._count(direction, control=1)
            self.pipes[direction].put(raw)
            return
        f = self.proxy.faults[direction]
        rng = self.rngs[direction]
        # Always the same four draws per Publish, so that decisions replay
        # whatever the settings.
        u_drop, u_dup, u_d1, u_d2 = rng.random(), rng.random(), rng.random(), rng.random()
        index = self.index[direction]
        self.index[direction] += 1
        lo, hi = f.delay_ms
        delays = [(lo + (hi - lo) * u) / 1000 for u in (u_d1, u_d2)]
        if u_drop < f.drop:
            verdict, delays = "drop", []
        elif u_dup < f.dup:
            verdict = "dup"
        else:
            verdict, delays = "pass", delays[:1]
        self.proxy._count(direction, publishes=1, dropped=int(verdict == "drop"),
                          duplicated=int(verdict == "dup"),
                          delayed=sum(1 for d in delays if d > 0))
        self.proxy._record(direction, self.no, index, verdict, delays)
        if delays:
            self.pipes[direction].put(raw, delays)

    def _pump_up(self, request_iterator):
        pipe = self.pipes[TO_NODE]
        try:
            for raw in request_iterator:
                self.proxy._dump(TO_NODE, self.no, raw)
                self._inject(TO_NODE, raw)
        except Exception:  # grpc.RpcError: the application's stream ended badly
            pipe.close()
            return
        pipe.end()  # the application half-closed: drain, then half-close upstream

    def _pump_down(self):
        pipe = self.pipes[TO_APP]
        status = None
        try:
            for raw in self.call:
                self.proxy._dump(TO_APP, self.no, raw)
                self._inject(TO_APP, raw)
        except grpc.RpcError as e:
            status = (e.code(), e.details(), e.trailing_metadata())
        if self.cancelled:
            pipe.close()
        else:
            pipe.end(status)
        self.pipes[TO_NODE].close()  # the upstream call is over: nothing more goes up
        self.channel.close()

    def responses(self):
        """The response stream of the application's call (run by grpcio's
        handler thread)."""
        pipe = self.pipes[TO_APP]
        yield from pipe.messages()
        if pipe.status is not None and not pipe.closed:
            code, details, trailing = pipe.status
            self.context.set_trailing_metadata(_forwardable(trailing))
            self.context.set_code(code)
            self.context.set_details(details or "")

    def _app_done(self):
        """The application's call is over (ended, cancelled, or the proxy
        stopped): end the upstream call too."""
        self.cancelled = True
        for p in self.pipes.values():
            p.close()
        self.call.cancel()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)


class FaultProxy:
    """The proxy, started in this process on construction.

    upstream: the node's port (on 127.0.0.1) or "host:port".
    faults: the settings of both directions (default Faults(): 10 % drop,
    5 % dup); to_node / to_app: the settings of one direction, overriding.
    seed: makes every decision replayable. record: keep every Publish's
    decision (see decisions()). queue_limit: messages held per direction of
    a stream before its reader waits. max_streams: concurrent streams (each
    takes a thread of the server's pool); more are refused.

    dump, tamper, tamper_every, tamper_dir, replay, replay_dir: the modes
    of the module's docstring (replay: an iterable of session message
    types).

    port / address: where it listens. set_faults(), counters(), pending(),
    wait_idle(), decisions(), replay(), close() (also on leaving a with
    block)."""

    def __init__(self, upstream, seed=0, faults=None, to_node=None, to_app=None,
                 listen="127.0.0.1:0", record=False, queue_limit=10000, max_streams=32,
                 dump=None, tamper=None, tamper_every=10, tamper_dir=TO_APP, replay=(),
                 replay_dir=TO_APP):
        self.upstream = f"127.0.0.1:{upstream}" if isinstance(upstream, int) else upstream
        self.seed = seed
        base = faults if faults is not None else Faults()
        self.faults = {TO_NODE: to_node or base, TO_APP: to_app or base}
        self.record = record
        self.queue_limit = queue_limit
        if tamper is not None and tamper not in TAMPER_KINDS:
            raise ValueError(f"tamper is one of {TAMPER_KINDS}: {tamper!r}")
        if tamper_every < 1 or tamper_dir not in DIRECTIONS or replay_dir not in DIRECTIONS:
            raise ValueError("tamper_every >= 1; tamper_dir and replay_dir are directions")
        self.tamper, self.tamper_every, self.tamper_dir = tamper, tamper_every, tamper_dir
        self.tampered = set()  # (stream, source, session id, message id) changed once
        self.replay_types = dict(t if isinstance(t, tuple) else (t, 0) for t in replay)
        self.replay_dir = replay_dir
        self.dump_lock = threading.Lock()
        self.dump_file = open(dump, "ab") if dump else None
        self.lock = threading.Lock()
        self._counters = {d: dict.fromkeys(COUNTERS, 0) for d in DIRECTIONS}
        self._decisions = {d: [] for d in DIRECTIONS}
        self.streams = {}  # no -> _Stream, while its threads run
        self.streams_opened = 0
        self.holding = False
        self.closed = False
        self.executor = futures.ThreadPoolExecutor(max_workers=max_streams,
                                                   thread_name_prefix="faultproxy-rpc")
        self.server = grpc.server(self.executor, maximum_concurrent_rpcs=max_streams,
                                  options=GRPC_OPTIONS)
        handler = grpc.stream_stream_rpc_method_handler(
            self._open_channel, request_deserializer=None, response_serializer=None)
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"OpenChannel": handler}),))
        host = listen.rsplit(":", 1)[0]
        self.port = self.server.add_insecure_port(listen)
        if not self.port:
            raise OSError(f"faultproxy: cannot listen on {listen}")
        self.address = f"{host}:{self.port}"
        self.server.start()

    def _open_channel(self, request_iterator, context):
        with self.lock:
            if self.closed:
                context.abort(grpc.StatusCode.UNAVAILABLE, "faultproxy is closing")
            no = self.streams_opened
            self.streams_opened += 1
        # Response headers at once, as the node sends them: some clients
        # (upstream's tonic) wait for them before sending their Link.
        context.send_initial_metadata(())
        stream = _Stream(self, no, request_iterator, context)
        with self.lock:
            self.streams[no] = stream
            self._reap()
        return stream.responses()

    def _reap(self):
        for no in [n for n, s in self.streams.items()
                   if not any(t.is_alive() for t in s.threads)]:
            del self.streams[no]

    def _count(self, direction, **deltas):
        with self.lock:
            c = self._counters[direction]
            for k, v in deltas.items():
                c[k] += v

    def _record(self, direction, stream_no, index, verdict, delays):
        if self.record:
            with self.lock:
                self._decisions[direction].append(
                    (stream_no, index, verdict, tuple(round(d * 1000, 3) for d in delays)))

    def _dump(self, direction, stream_no, raw):
        if self.dump_file is None:
            return
        with self.dump_lock:
            if self.dump_file.closed:
                return
            self.dump_file.write(struct.pack(">BII", DIRECTIONS.index(direction), stream_no,
                                             len(raw)) + raw)
            self.dump_file.flush()

    def _inspect(self, stream, direction, raw):
        """The tamper and replay modes: raw as it goes on (changed or not)."""
        tampering = self.tamper is not None and direction == self.tamper_dir
        keeping = self.replay_types and direction == self.replay_dir
        if not tampering and not keeping:
            return raw
        info = publish_info(raw)
        if info is None:
            return raw
        if keeping and info["type"] in self.replay_types and info["type"] not in stream.kept:
            ids = stream.ids.setdefault(info["type"], [])
            if info["message_id"] not in ids:
                ids.append(info["message_id"])
                if len(ids) == self.replay_types[info["type"]] + 1:
                    stream.kept[info["type"]] = raw
        if (tampering and info["type"] == SESSION_MSG and info["message_id"] != 0
                and info["message_id"] % self.tamper_every == 0):
            key = (stream.no, info["source"], info["session_id"], info["message_id"])
            with self.lock:
                first = key not in self.tampered
                self.tampered.add(key)
            changed = tamper(raw, self.tamper, info) if first else None
            if changed is not None:
                self._count(direction, tampered=1)
                return changed
        return raw

    def replay(self):
        """Sends every Publish the replay mode kept again, on its stream, at
        once. Returns how many went."""
        with self.lock:
            streams = list(self.streams.values())
        sent = 0
        for st in streams:
            for t in sorted(st.kept):
                if st.pipes[self.replay_dir].put(st.kept[t]):
                    sent += 1
        self._count(self.replay_dir, replayed=sent)
        return sent

    def set_faults(self, faults=None, to_node=None, to_app=None):
        """Changes the settings, for the Publishes read from now on (on
        every stream): faults for both directions, to_node / to_app for
        one. A run replays when the change happens at the same message."""
        with self.lock:
            if faults is not None:
                self.faults = {d: faults for d in DIRECTIONS}
            if to_node is not None:
                self.faults = dict(self.faults, **{TO_NODE: to_node})
            if to_app is not None:
                self.faults = dict(self.faults, **{TO_APP: to_app})

    def counters(self):
        """{'to_node': {...}, 'to_app': {...}, 'streams': n}, a snapshot.
        Per direction: publishes (Publishes read), dropped, duplicated
        (Publishes sent twice), delayed (copies held > 0 ms), reordered
        (copies released at another place than they came in, within their
        batch), forwarded (Publish copies handed on so far), control (other
        messages, all passed), unsent (copies discarded because their
        stream ended first). Once nothing is pending and no stream was cut,
        forwarded == publishes - dropped + duplicated."""
        with self.lock:
            out = {d: dict(c) for d, c in self._counters.items()}
            out["streams"] = self.streams_opened
        return out

    def pending(self):
        """Messages read and not yet handed on, over all streams."""
        with self.lock:
            streams = list(self.streams.values())
        return sum(p.pending() for s in streams for p in s.pipes.values())

    def wait_idle(self, timeout=10):
        """Waits until nothing is pending; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def decisions(self, direction):
        """With record=True: (stream, index, verdict, delays in ms) for every
        Publish read in that direction, verdict 'pass', 'drop' or 'dup'."""
        with self.lock:
            return list(self._decisions[direction])

    def hold(self, on):
        """Holds every Publish from now on (on=True), or lets the held ones
        go, in their order (on=False)."""
        with self.lock:
            self.holding = on
            streams = list(self.streams.values())
        for s in streams:
            for p in s.pipes.values():
                with p.cv:
                    p.cv.notify_all()

    def cut(self):
        """Ends every stream open now, both ways; new ones are taken as
        before."""
        with self.lock:
            streams = list(self.streams.values())
        for s in streams:
            s._app_done()

    def close(self, timeout=10):
        """Stops listening, ends every stream both ways and waits for its
        threads. Idempotent."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.server.stop(None).wait(timeout)
        deadline = time.monotonic() + timeout
        with self.lock:
            streams = list(self.streams.values())
        for s in streams:
            s._app_done()  # the handlers' response streams end here
        self.executor.shutdown(wait=True)
        with self.lock:  # now complete: no handler runs any more
            streams = list(self.streams.values())
        for s in streams:
            s._app_done()
        stuck = [s.no for s in streams if not s.join(max(0.0, deadline - time.monotonic()))]
        with self.lock:
            self._reap()
        if self.dump_file is not None:
            with self.dump_lock:
                self.dump_file.close()
        if stuck:
            raise RuntimeError(f"faultproxy: threads of streams {stuck} did not end")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _parse_delay(text):
    lo, _, hi = text.partition("-")
    lo = float(lo)
    return (lo, float(hi) if hi else lo)


def _parse_direction(base, text):
    """'drop=0.2,dup=0,delay-ms=5-10,reorder-window=4' over base."""
    changes = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if key == "delay_ms":
            changes[key] = _parse_delay(value)
        elif key == "reorder_window":
            changes[key] = int(value)
        elif key in ("drop", "dup", "reorder_hold_ms"):
            changes[key] = float(value)
        else:
            raise argparse.ArgumentTypeError(f"unknown fault setting {key!r}")
    return replace(base, **changes)


def main(argv=None):
    ap = argparse.ArgumentParser(description="A fault-injecting gRPC proxy for SLIM's data "
                                 "plane (drops, duplicates, delays and reorders Publishes).")
    ap.add_argument("--listen", default="127.0.0.1:0", help="host:port (port 0: any free)")
    ap.add_argument("--upstream", required=True, help="the node's data-plane host:port")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed of every fault decision (default: random, printed)")
    ap.add_argument("--drop", type=float, default=0.10, help="probability (default 0.10)")
    ap.add_argument("--dup", type=float, default=0.05, help="probability (default 0.05)")
    ap.add_argument("--delay-ms", type=_parse_delay, default=(0.0, 0.0),
                    help="A or A-B: each copy waits uniform(A, B) ms (default 0)")
    ap.add_argument("--reorder-window", type=int, default=0,
                    help="shuffle Publishes in batches of up to K (default 0: off)")
    ap.add_argument("--reorder-hold-ms", type=float, default=20.0,
                    help="longest wait in an unfilled window (default 20)")
    ap.add_argument("--to-node", default="", metavar="K=V,...",
                    help="overrides for application->node, e.g. drop=0.2,delay-ms=5-10")
    ap.add_argument("--to-app", default="", metavar="K=V,...",
                    help="overrides for node->application")
    ap.add_argument("--dump", default=None, metavar="FILE",
                    help="append every message read, both ways, to FILE (see the docstring)")
    ap.add_argument("--tamper", choices=TAMPER_KINDS, default=None,
                    help="change the first copy of every N-th MSG (see the docstring)")
    ap.add_argument("--tamper-every", type=int, default=10, metavar="N",
                    help="MSGs whose message id is a multiple of N are changed (default 10)")
    ap.add_argument("--tamper-dir", choices=DIRECTIONS, default=TO_APP,
                    help="the direction tampered with (default to_app)")
    ap.add_argument("--replay", default="", metavar="T[:N],...",
                    help="keep the first (N-th from 0, by distinct message id) Publish of "
                    "these session message types; SIGWINCH sends the kept ones again")
    ap.add_argument("--replay-dir", choices=DIRECTIONS, default=TO_APP,
                    help="the direction kept and replayed (default to_app)")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    try:
        base = Faults(drop=args.drop, dup=args.dup, delay_ms=args.delay_ms,
                      reorder_window=args.reorder_window, reorder_hold_ms=args.reorder_hold_ms)
        to_node = _parse_direction(base, args.to_node)
        to_app = _parse_direction(base, args.to_app)
    except (ValueError, argparse.ArgumentTypeError) as e:
        ap.error(str(e))
    try:
        replay = [(int(t.partition(":")[0]), int(t.partition(":")[2] or 0))
                  for t in filter(None, args.replay.split(","))]
    except ValueError:
        ap.error(f"--replay takes session message type numbers: {args.replay!r}")
    if args.tamper_every < 1:
        ap.error("--tamper-every must be at least 1")
    proxy = FaultProxy(args.upstream, seed=seed, to_node=to_node, to_app=to_app,
                       listen=args.listen, dump=args.dump, tamper=args.tamper,
                       tamper_every=args.tamper_every, tamper_dir=args.tamper_dir,
                       replay=replay, replay_dir=args.replay_dir)
    print(f"listening faultproxy {proxy.address}", flush=True)
    print(f"seed {seed}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1,
                  lambda *_: print("counters " + json.dumps(proxy.counters()), flush=True))
    signal.signal(signal.SIGUSR2, lambda *_: proxy.cut())

    def toggle_hold(*_):
        proxy.hold(not proxy.holding)
        print("hold on" if proxy.holding else "hold off", flush=True)

    signal.signal(signal.SIGHUP, toggle_hold)
    signal.signal(signal.SIGWINCH,
                  lambda *_: print(f"replayed {proxy.replay()}", flush=True))
    while not stop.wait(1):
        pass
    proxy.close()
    print("counters " + json.dumps(proxy.counters()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
