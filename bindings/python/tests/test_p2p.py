"""Point-to-point sessions through a real node: anycast, unicast, request/reply,
payloads, reconnection, cancellation and the errors a user sees.

Runs against the package laid out in the build tree
(PYTHONPATH=<build>/bindings/python, SLIM_BIN=<build>/apps/slim). The API is
upstream's of October 2025 (shared/spec/python-api-seed.md, section 1).
"""

from __future__ import annotations

import asyncio
import datetime
import random

import pytest

import slim_bindings
from slim_bindings import PyName, PySessionConfiguration, PySessionType

from conftest import expect_error, free_port, listen, recv, secs, svc_name, unique

ms = lambda n: datetime.timedelta(milliseconds=n)  # noqa: E731

SESSION_CLOSED_GETTER = "session closed"
PUBLISH_CLOSED = "error in session: session closed"
DELETE_CLOSED = "session closed: session already closed"
RECEIVE_ERROR = "error receiving message"


# ---- helpers ------------------------------------------------------------------



def reliable_unicast(peer: PyName, **kw) -> PySessionConfiguration:
    return PySessionConfiguration.Unicast(peer, timeout=secs(1), max_retries=5, **kw)



async def drain(session, quiet: float = 1.0) -> list:
    """Every (ctx, payload) that arrives until nothing came for `quiet` seconds."""
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(session.get_message(), quiet))
        except asyncio.TimeoutError:
            return out



async def listen_for(app, session_id: int, timeout: float = 15.0):
    """The session with wire id session_id (skipping others, e.g. of failed opens)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            pytest.fail(f"session {session_id} never arrived")
        try:
            s = await app.listen_for_session(timeout=datetime.timedelta(seconds=left))
        except TimeoutError:
            continue
        if s.id == session_id:
            return s


async def unicast_pair(apps, node, **cfg):
    """alice and bob connected to node, and a reliable Unicast session alice -> bob:
    (alice, bob, bob_name, alice's session, bob's session)."""
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)
    await alice.set_route(bob_name)
    s = await asyncio.wait_for(alice.create_session(reliable_unicast(bob_name, **cfg)), 15)
    await s.publish(b"hello")
    r = await listen(bob)
    _, first = await recv(r)
    assert first == b"hello"
    return alice, bob, bob_name, s, r


async def anycast_pair(apps, node):
    """alice and bob, an Anycast session of alice's that reached bob:
    (alice, bob, bob_name, alice's session, bob's session)."""
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)
    await alice.set_route(bob_name)
    s = await alice.create_session(PySessionConfiguration.Anycast())
    await s.publish_with_destination(b"hello", bob_name)
    r = await listen(bob)
    _, first = await recv(r)
    assert first == b"hello"
    return alice, bob, bob_name, s, r



# ---- anycast ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_anycast_reaches_instances_of_the_name(node, apps):
    service = svc_name("svc")
    alice = await apps.new(svc_name("alice"), node)
    b1 = await apps.new(service, node)
    b2 = await apps.new(service, node)
    assert b1.id != b2.id
    await alice.set_route(service)

    s = await alice.create_session(PySessionConfiguration.Anycast())
    assert s.session_type == PySessionType.ANYCAST
    assert s.dst is None
    assert s.src == alice.local_name

    n = 40
    for i in range(n):
        # the destination carries no id: any instance of the service
        await s.publish_with_destination(
            f"m{i}".encode(), PyName(*service.components_strings())
        )

    async def instance_side(app):
        try:
            sess = await app.listen_for_session(timeout=secs(5))
        except TimeoutError:
            return None, []
        return sess, await drain(sess)

    (s1, got1), (s2, got2) = await asyncio.gather(instance_side(b1), instance_side(b2))

    for app, sess, got in ((b1, s1, got1), (b2, s2, got2)):
        if sess is None:
            continue
        assert sess.session_type == PySessionType.ANYCAST
        assert sess.id == s.id
        assert sess.dst is None
        assert sess.src == app.local_name
        for ctx, _ in got:
            assert ctx.source_name == alice.local_name
            assert ctx.destination_name.equal_without_id(service)

    payloads = [p for _, p in got1] + [p for _, p in got2]
    assert all(isinstance(p, bytes) for p in payloads)
    assert sorted(payloads) == sorted(f"m{i}".encode() for i in range(n)), (
        "every anycast message reaches exactly one instance"
    )
    # the nodes pick an instance per message (not one for the whole session)
    assert got1 and got2, (len(got1), len(got2))


@pytest.mark.asyncio
async def test_session_kind_checks_run_before_any_io(node, apps, monkeypatch):
    alice, bob, bob_name, uni, r = await unicast_pair(apps, node)
    any_ = await alice.create_session(PySessionConfiguration.Anycast())

    calls = []

    async def spy(*args, **kwargs):
        calls.append((args, kwargs))

    monkeypatch.setattr(slim_bindings._service, "publish", spy)

    with pytest.raises(RuntimeError) as e:
        await any_.publish(b"x")
    assert str(e.value) == "unexpected session type: expected UNICAST or MULTICAST"
    # the type check comes first: even a payload that is refused later gives it
    with pytest.raises(RuntimeError) as e:
        await any_.publish("not bytes")
    assert str(e.value) == "unexpected session type: expected UNICAST or MULTICAST"

    with pytest.raises(RuntimeError) as e:
        await uni.publish_with_destination(b"x", bob_name)
    assert str(e.value) == "unexpected session type: expected ANYCAST"
    with pytest.raises(RuntimeError) as e:
        await uni.publish_with_destination("not bytes", bob_name)
    assert str(e.value) == "unexpected session type: expected ANYCAST"

    assert calls == [], "the refused calls reached the service layer"
    monkeypatch.undo()

    # nothing went out: bob's next message is the one sent now
    await uni.publish(b"after")
    _, p = await recv(r)
    assert p == b"after"
    assert await drain(r, 0.5) == []


# ---- unicast ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unicast_sticks_to_one_instance(node, apps):
    service = svc_name("svc")
    alice = await apps.new(svc_name("alice"), node)
    b1 = await apps.new(service, node)
    b2 = await apps.new(service, node)
    await alice.set_route(service)

    s = await asyncio.wait_for(
        alice.create_session(
            PySessionConfiguration.Unicast(service, timeout=secs(1), max_retries=5)
        ),
        15,
    )
    assert s.session_type == PySessionType.UNICAST
    assert s.src == alice.local_name
    dst = s.dst
    assert dst is not None
    assert dst.equal_without_id(service)
    assert dst.components_strings() == service.components_strings()
    assert dst.id in (b1.id, b2.id), "dst is the peer with its id"
    chosen, other = (b1, b2) if dst.id == b1.id else (b2, b1)
    assert dst == chosen.local_name

    n = 1000

    async def send():
        for i in range(n):
            await s.publish(str(i).encode())

    sender = asyncio.create_task(send())
    r = await listen(chosen)
    assert r.id == s.id
    assert r.session_type == PySessionType.UNICAST
    assert r.src == chosen.local_name
    assert r.dst == alice.local_name
    got = []
    for _ in range(n):
        ctx, p = await recv(r)
        assert ctx.source_name == alice.local_name
        got.append(int(p))
    await asyncio.wait_for(sender, 30)
    assert got == list(range(n))
    assert await drain(r, 0.5) == []

    # the other instance never heard of the session
    with pytest.raises(TimeoutError):
        await other.listen_for_session(timeout=secs(1))


# ---- request / reply ----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["unicast", "anycast"])
async def test_request_reply(node, apps, kind):
    pair = unicast_pair if kind == "unicast" else anycast_pair
    alice, bob, bob_name, s, r = await pair(apps, node)

    async def ask(payload, **kw):
        if kind == "unicast":
            await s.publish(payload, **kw)
        else:
            await s.publish_with_destination(payload, bob_name, **kw)

    n = 10

    async def responder():
        for _ in range(n):
            ctx, p = await recv(r)
            assert ctx.source_name == alice.local_name
            assert ctx.payload_type == "request"
            assert ctx.metadata.items() >= {"seq": p.decode()}.items()
            await r.publish_to(
                ctx, b"re:" + p, payload_type="reply", metadata={"answer": p.decode()}
            )

    task = asyncio.create_task(responder())
    for i in range(n):
        await ask(str(i).encode(), payload_type="request", metadata={"seq": str(i)})
        ctx, p = await recv(s)
        assert p == f"re:{i}".encode()
        assert ctx.source_name == bob.local_name, "the reply comes from the responder"
        assert ctx.payload_type == "reply"
        assert ctx.metadata.items() >= {"answer": str(i)}.items()
    await asyncio.wait_for(task, 10)

    # without payload_type / metadata: "msg", no user metadata
    await ask(b"plain")
    ctx, p = await recv(r)
    assert p == b"plain"
    assert ctx.payload_type == "msg"
    assert "seq" not in ctx.metadata
    await r.publish_to(ctx, b"plain-reply")
    ctx, p = await recv(s)
    assert p == b"plain-reply"
    assert ctx.payload_type == "msg"
    assert ctx.source_name == bob.local_name


# ---- payloads -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_payload_types(node, apps):
    alice, bob, bob_name, s, r = await unicast_pair(apps, node)

    await s.publish(b"\x00\x01bytes")
    await s.publish([1, 2, 3, 255])
    await s.publish(b"", metadata={"k": "v"})

    with pytest.raises(TypeError):
        await s.publish("a str is not bytes")
    with pytest.raises(TypeError):
        await s.publish(5)  # an int is not a sequence of ints
    with pytest.raises(TypeError):
        await s.publish(b"x", metadata={"k": 1})
    with pytest.raises(TypeError):
        await s.publish(b"x", metadata={"k": b"v"})

    got = [(p, ctx.metadata) for ctx, p in await drain(r)]
    assert [p for p, _ in got] == [b"\x00\x01bytes", bytes([1, 2, 3, 255]), b""]
    assert all(type(p) is bytes for p, _ in got)
    assert got[2][1].get("k") == "v"


# ---- reconnection -------------------------------------------------------------


@pytest.mark.asyncio
async def test_new_session_after_node_restart(node, apps):
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)
    await alice.set_route(bob_name)

    node.stop()
    await asyncio.sleep(0.5)
    node.start()

    # the apps reconnect and subscribe again by themselves; try for a while
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    last = None
    while True:
        try:
            s = await asyncio.wait_for(
                alice.create_session(
                    PySessionConfiguration.Unicast(bob_name, timeout=ms(700), max_retries=2)
                ),
                10,
            )
            break
        except Exception as e:  # noqa: BLE001
            last = e
            if loop.time() > deadline:
                pytest.fail(f"no session 30 s after the node restarted: {last!r}")
            await asyncio.sleep(0.5)

    await s.publish(b"after restart")
    r = await listen_for(bob, s.id)
    ctx, p = await recv(r)
    assert p == b"after restart"
    await r.publish_to(ctx, b"back")
    _, p = await recv(s)
    assert p == b"back"


# ---- cancellation -------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancelled_get_message_loses_nothing(node, apps):
    alice, bob, bob_name, s, r = await unicast_pair(apps, node)

    async def cancel_one(how: int):
        if how % 2 == 0:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(r.get_message(), 0.05)
        else:
            t = asyncio.create_task(r.get_message())
            await asyncio.sleep(0.05)
            assert not t.done()
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t

    # one cancelled receive before each message
    for i in range(10):
        await cancel_one(i)
        await s.publish(f"a{i}".encode())
        _, p = await recv(r)
        assert p == f"a{i}".encode()

    # several cancelled receives, then a burst
    for i in range(6):
        await cancel_one(i)
    for i in range(5):
        await s.publish(f"b{i}".encode())
    got = [p for _, p in [await recv(r) for _ in range(5)]]
    assert got == [f"b{i}".encode() for i in range(5)]

    # messages that arrived while nobody was reading, after cancelled receives
    for i in range(4):
        await cancel_one(i)
    for i in range(5):
        await s.publish(f"c{i}".encode())
    await asyncio.sleep(0.5)
    got = [p for _, p in [await recv(r) for _ in range(5)]]
    assert got == [f"c{i}".encode() for i in range(5)]

    # nothing duplicated
    assert await drain(r, 1.0) == []


@pytest.mark.asyncio
async def test_get_message_cancel_race_loses_nothing(node, apps):
    """task.cancel() right when the message arrives: the message is either the
    cancelled call's result or the next call's, never lost."""
    alice, bob, bob_name, s, r = await unicast_pair(apps, node)
    rnd = random.Random(1234)
    n = 300
    got, cancelled = [], 0
    for i in range(n):
        t = asyncio.create_task(r.get_message())
        await asyncio.sleep(0)
        await s.publish(str(i).encode())
        for _ in range(rnd.randrange(4)):
            await asyncio.sleep(0)
        t.cancel()
        try:
            _, p = await t
            got.append(int(p))
        except asyncio.CancelledError:
            cancelled += 1
    got += [int(p) for _, p in await drain(r, 1.5)]
    missing = sorted(set(range(n)) - set(got))
    assert got == list(range(n)), f"{cancelled} cancelled, missing {missing[:10]}"


@pytest.mark.asyncio
async def test_listen_for_session_timeout_then_session(node, apps):
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)
    await alice.set_route(bob_name)

    for _ in range(3):
        with pytest.raises(TimeoutError) as e:
            await bob.listen_for_session(timeout=ms(100))
        assert type(e.value) is TimeoutError  # the builtin (asyncio's alias on 3.11)
    t = asyncio.create_task(bob.listen_for_session())
    await asyncio.sleep(0.1)
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t

    s = await asyncio.wait_for(alice.create_session(reliable_unicast(bob_name)), 15)
    await s.publish(b"first")
    r = await listen(bob, 10)
    assert r.id == s.id
    _, p = await recv(r)
    assert p == b"first"

    # exactly one session arrived
    with pytest.raises(TimeoutError):
        await bob.listen_for_session(timeout=ms(500))

    # a second session after more timeouts
    with pytest.raises(TimeoutError):
        await bob.listen_for_session(timeout=ms(100))
    s2 = await alice.create_session(PySessionConfiguration.Anycast())
    await s2.publish_with_destination(b"second", bob_name)
    r2 = await listen(bob, 10)
    assert r2.id == s2.id
    _, p = await recv(r2)
    assert p == b"second"


@pytest.mark.asyncio
async def test_listen_for_session_cancel_race_loses_nothing(node, apps):
    """Sessions arriving while listen_for_session calls are cancelled (task.cancel())
    or time out (its own timeout): each is returned by exactly one call."""
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)
    await alice.set_route(bob_name)
    rnd = random.Random(4321)
    n = 60
    opened, got = [], []
    for i in range(n):
        if i % 2 == 0:
            t = asyncio.create_task(bob.listen_for_session())
        else:
            t = asyncio.create_task(bob.listen_for_session(timeout=ms(rnd.random() * 3)))
        await asyncio.sleep(0)
        s = await alice.create_session(PySessionConfiguration.Anycast())
        opened.append(s.id)
        await s.publish_with_destination(b"x", bob_name)
        for _ in range(rnd.randrange(6)):
            await asyncio.sleep(0)
        t.cancel()
        try:
            got.append((await t).id)
        except (asyncio.CancelledError, TimeoutError):
            pass
    while True:
        try:
            got.append((await bob.listen_for_session(timeout=secs(1.5))).id)
        except TimeoutError:
            break
    assert sorted(got) == sorted(opened), (
        f"missing {sorted(set(opened) - set(got))}, extra {len(got) - len(set(got))}"
    )


@pytest.mark.asyncio
async def test_listen_for_session_many_timeouts(node, apps):
    """The usual server loop: listen with a timeout, again and again."""
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)
    await alice.set_route(bob_name)

    for i in range(200):
        try:
            await bob.listen_for_session(timeout=ms(2))
        except TimeoutError:
            pass
        # anything else (e.g. an Exception) fails the test here, at iteration i

    s = await asyncio.wait_for(alice.create_session(reliable_unicast(bob_name)), 15)
    await s.publish(b"x")
    r = await listen(bob, 10)
    assert r.id == s.id
    _, p = await recv(r)
    assert p == b"x"


# ---- errors -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["unicast", "anycast"])
async def test_publish_after_delete(node, apps, kind):
    pair = unicast_pair if kind == "unicast" else anycast_pair
    alice, bob, bob_name, s, r = await pair(apps, node)
    await s.delete()
    if kind == "unicast":
        e = await expect_error(s.publish(b"x"))
    else:
        e = await expect_error(s.publish_with_destination(b"x", bob_name))
    assert type(e) is Exception, repr(e)
    assert str(e).startswith(PUBLISH_CLOSED), str(e)


@pytest.mark.asyncio
async def test_delete_twice(node, apps):
    alice, bob, bob_name, s, r = await unicast_pair(apps, node)
    await alice.delete_session(s)
    e = await expect_error(s.delete())
    assert type(e) is Exception, repr(e)
    assert str(e).startswith(DELETE_CLOSED), str(e)
    e = await expect_error(alice.delete_session(s))
    assert str(e).startswith(DELETE_CLOSED), str(e)


@pytest.mark.asyncio
async def test_get_message_on_deleted_session(node, apps):
    alice, bob, bob_name, s, r = await unicast_pair(apps, node)

    # one waiting while the session is deleted does not hang
    pending = asyncio.create_task(s.get_message())
    await asyncio.sleep(0.2)
    await s.delete()
    e = await expect_error(pending, 10)
    assert type(e) is Exception, repr(e)
    assert str(e).startswith(RECEIVE_ERROR), str(e)

    # and one after
    e = await expect_error(s.get_message(), 10)
    assert type(e) is Exception, repr(e)
    assert str(e).startswith(RECEIVE_ERROR), str(e)

    # the peer's session is gone too: its reader is told (bounded by the close)
    e = await expect_error(r.get_message(), 20)
    assert type(e) is Exception, repr(e)
    assert str(e).startswith(RECEIVE_ERROR), str(e)


@pytest.mark.asyncio
async def test_properties_after_delete(node, apps):
    alice, bob, bob_name, s, r = await unicast_pair(apps, node)
    assert isinstance(s.id, int) and isinstance(s.metadata, dict)
    await s.delete()
    for prop in ("id", "metadata", "session_type", "session_config", "src", "dst"):
        try:
            value = getattr(s, prop)
        except Exception as e:  # noqa: BLE001
            assert type(e) is Exception, (prop, repr(e))
            assert str(e).startswith(SESSION_CLOSED_GETTER), (prop, str(e))
        else:
            pytest.fail(f"session.{prop} still readable after delete(): {value!r}")


@pytest.mark.asyncio
async def test_connect_unreachable_endpoint_fails(node, apps):
    app = await apps.new(svc_name("lonely"), node, connect=False)
    endpoint = f"http://127.0.0.1:{free_port()}"
    e = await expect_error(app.connect({"endpoint": endpoint, "tls": {"insecure": True}}), 20)
    assert isinstance(e, Exception) and not isinstance(e, asyncio.TimeoutError), repr(e)
    assert endpoint not in app.conn_ids
    # the app is still usable
    conn = await asyncio.wait_for(app.connect(node.client_config), 15)
    assert isinstance(conn, int)
    assert app.conn_ids[node.client_config["endpoint"]] == conn


@pytest.mark.asyncio
@pytest.mark.parametrize("parts", [("org", "", "svc"), ("", "ns", "svc"), ("org", "ns", "")])
async def test_name_with_empty_component_refused(node, apps, parts):
    app = await apps.new(svc_name("alice"), node)
    bad = PyName(*parts)
    e = await expect_error(app.set_route(bad), 10)
    assert isinstance(e, (Exception, TypeError)) and not isinstance(e, asyncio.TimeoutError)
    assert "empty" in str(e).lower(), str(e)
    e = await expect_error(
        app.create_session(PySessionConfiguration.Unicast(bad, timeout=ms(600), max_retries=1)),
        10,
    )
    assert isinstance(e, (Exception, TypeError)) and not isinstance(e, asyncio.TimeoutError)
    assert "empty" in str(e).lower(), str(e)


@pytest.mark.asyncio
async def test_unicast_to_nobody_fails(node, apps):
    alice = await apps.new(svc_name("alice"), node)
    nobody = svc_name("nobody")
    await alice.set_route(nobody)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def open_and_use():
        s = await alice.create_session(
            PySessionConfiguration.Unicast(nobody, timeout=ms(600), max_retries=1)
        )
        # upstream reports it when the session is used
        await s.publish(b"anyone?")
        await s.get_message()

    e = await expect_error(open_and_use(), 15)
    assert type(e) is Exception, repr(e)
    text = str(e)
    assert "no matching found" in text or "discovery" in text.lower(), text
    assert loop.time() - start < 10
