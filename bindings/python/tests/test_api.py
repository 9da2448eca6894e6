"""The API surface of slim_bindings (shared/spec/python-api-seed.md, section 1):
exports, the Slim class, the module functions used directly with their defaults,
servers run by apps, client config spellings, JWT identities, SLIMTimeoutError
and the version functions.

Runs against the package laid out in the build tree (PYTHONPATH=<build>/bindings/python,
SLIM_BIN=<build>/apps/slim).
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import pathlib
import re
import subprocess
import uuid

import pytest

import slim_bindings
from slim_bindings import (
    PyAlgorithm,
    PyIdentityProvider,
    PyIdentityVerifier,
    PyKey,
    PyKeyData,
    PyKeyFormat,
    PyMessageContext,
    PyName,
    PyService,
    PySessionConfiguration,
    PySessionContext,
    PySessionType,
    SLIMTimeoutError,
    Slim,
)
from slim_bindings import _slim_bindings

from conftest import Node, expect_error, free_port, listen, recv, secs, shared_secret, svc_name, unique

ms = lambda n: datetime.timedelta(milliseconds=n)  # noqa: E731

NULL_ID = 2**128 - 1

# spec 1.1
CLASSES = [
    "PyAlgorithm",
    "PyIdentityProvider",
    "PyIdentityVerifier",
    "PyKey",
    "PyKeyData",
    "PyKeyFormat",
    "PyName",
    "PyService",
    "PySessionConfiguration",
    "PySessionContext",
    "PySessionType",
]
FUNCTIONS = [
    "connect",
    "create_pyservice",
    "create_session",
    "delete_session",
    "disconnect",
    "get_message",
    "init_tracing",
    "invite",
    "listen_for_session",
    "publish",
    "remove",
    "remove_route",
    "run_server",
    "set_default_session_config",
    "set_route",
    "stop_server",
    "subscribe",
    "unsubscribe",
]
PYTHON_LEVEL = [
    "SLIMTimeoutError",
    "PySession",
    "Slim",
    "get_build_info",
    "get_build_profile",
    "get_version",
]


# ---- helpers ------------------------------------------------------------------



async def recv_raw(svc, ctx, timeout: float = 10.0):
    """get_message(svc, ctx), failing the test after timeout."""
    try:
        return await asyncio.wait_for(slim_bindings.get_message(svc, ctx), timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"no message within {timeout} s")


async def listen_raw(svc, timeout: float = 10.0):
    try:
        return await asyncio.wait_for(slim_bindings.listen_for_session(svc), timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"no session within {timeout} s")




async def nothing_arrives(app, timeout: float = 1.5) -> bool:
    """True when no session reaches app within timeout."""
    try:
        s = await app.listen_for_session(timeout=secs(timeout))
    except TimeoutError:
        return True
    # a session came: nothing should have; say what it brought
    try:
        got = await asyncio.wait_for(s.get_message(), 1)
    except BaseException as e:  # noqa: BLE001
        got = e
    pytest.fail(f"a session arrived (id {s.id}): {got!r}")



async def raw_app(apps, name: PyName, identity: str | None = None):
    """(svc, app): a PyService made by create_pyservice and the Slim over it
    (upstream's Slim.new does the same); the apps fixture closes it at the end."""
    svc = await slim_bindings.create_pyservice(
        name, *shared_secret(identity or name.components_strings()[2])
    )
    app = Slim(svc, name)
    apps.made.append(app)
    return svc, app


async def raw_service(apps, name: PyName, identity: str | None = None):
    """A PyService made by create_pyservice (closed at the end of the test)."""
    return (await raw_app(apps, name, identity))[0]


async def raw_connect(svc, node) -> int:
    conn = await slim_bindings.connect(svc, node.client_config)
    # as Slim.connect does: announce the app's own name (with its id)
    await slim_bindings.subscribe(svc, conn, svc.name)
    return conn


# ---- exports ------------------------------------------------------------------


def test_exports_of_the_package_and_the_extension():
    for name in CLASSES + FUNCTIONS + PYTHON_LEVEL + ["PyMessageContext"]:
        assert hasattr(slim_bindings, name), name
    for name in FUNCTIONS:
        f = getattr(slim_bindings, name)
        assert callable(f), name
        # upstream's functions live in the extension module: reachable there too
        assert hasattr(_slim_bindings, name), name
        assert getattr(_slim_bindings, name) is f, name
    for name in CLASSES + ["PyMessageContext"]:
        assert getattr(_slim_bindings, name) is getattr(slim_bindings, name), name
        assert inspect.isclass(getattr(slim_bindings, name)), name
    assert slim_bindings.session.PyMessageContext is PyMessageContext
    assert issubclass(SLIMTimeoutError, Exception)
    assert inspect.isclass(slim_bindings.PySession) and inspect.isclass(Slim)


def test_service_classes_cannot_be_constructed():
    with pytest.raises(Exception) as e:
        PyMessageContext()
    assert type(e.value) is Exception
    assert str(e.value) == "Cannot construct PyMessageContext directly"
    for cls in (PyService, PySessionContext):
        with pytest.raises(Exception):
            cls()
        # not with arguments either
        with pytest.raises(Exception):
            cls(1, 2)


# ---- Slim ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_slim_new_id_and_names(apps):
    name = svc_name("alice")
    app = await apps.new(name)  # not connected
    assert isinstance(app, Slim)

    assert isinstance(app.id, int) and not isinstance(app.id, bool)
    assert app.id == app.local_name.id
    assert 0 <= app.id < NULL_ID  # an instance id, not the NULL id
    local = app.local_name
    assert isinstance(local, PyName)
    assert local.components_strings() == name.components_strings()
    assert local.equal_without_id(name)
    assert local != name  # name carries no id, local_name does
    c = name.components_strings()
    assert app.id_str == f"{c[0]}/{c[1]}/{c[2]}/{app.id}"
    assert str(local) == f"{c[0]}/{c[1]}/{c[2]}/{uuid.UUID(int=app.id)}"

    # a second instance of the same name: another id
    other = await apps.new(name)
    assert other.id != app.id
    assert other.local_name.equal_without_id(app.local_name)
    assert other.local_name != app.local_name

    assert app.conn_ids == {}


@pytest.mark.asyncio
async def test_routing_before_connect_raises_attribute_error(apps):
    app = await apps.new(svc_name("alice"))
    peer = svc_name("peer")
    for call in (app.set_route, app.remove_route, app.subscribe, app.unsubscribe):
        with pytest.raises(AttributeError):
            await call(peer)


@pytest.mark.asyncio
async def test_connect_conn_ids_and_disconnect(node, apps):
    svc, app = await raw_app(apps, svc_name("alice"))
    endpoint = node.client_config["endpoint"]
    conn = await asyncio.wait_for(app.connect(node.client_config), 15)
    assert isinstance(conn, int) and not isinstance(conn, bool)
    assert app.conn_ids == {endpoint: conn}
    assert app.conn_id == conn

    await asyncio.wait_for(app.disconnect(endpoint), 10)
    assert endpoint not in app.conn_ids
    # the connection is really gone: disconnecting it again fails
    e = await expect_error(slim_bindings.disconnect(svc, conn), 10)
    assert type(e) is Exception, repr(e)
    # and an unknown endpoint is a KeyError of conn_ids (upstream's dict lookup)
    with pytest.raises(KeyError):
        await app.disconnect(endpoint)

    # connecting again works and gives a usable connection
    conn2 = await asyncio.wait_for(app.connect(node.client_config), 15)
    assert app.conn_ids == {endpoint: conn2}
    assert app.conn_id == conn2
    await app.set_route(svc_name("peer"))


@pytest.mark.asyncio
async def test_slim_set_default_session_config(node, apps):
    bob_name = svc_name("bob")
    alice = await apps.new(svc_name("alice"), node)
    bob = await apps.new(bob_name, node)

    assert inspect.iscoroutinefunction(Slim.set_default_session_config)
    with pytest.raises(Exception) as e:
        await bob.set_default_session_config(PySessionConfiguration.Anycast(mls_enabled=True))
    assert not isinstance(e.value, (TypeError, AttributeError)), repr(e.value)

    default = PySessionConfiguration.Anycast(timeout=ms(700), max_retries=3)
    assert await bob.set_default_session_config(default) is None

    # a session made by an incoming anycast message reports the default config
    await alice.set_route(bob_name)
    s = await alice.create_session(PySessionConfiguration.Anycast())
    await s.publish_with_destination(b"hi", bob_name)
    r = await listen(bob)
    _, p = await recv(r)
    assert p == b"hi"
    assert r.session_type == PySessionType.ANYCAST
    assert r.session_config == default


@pytest.mark.asyncio
async def test_slim_listen_for_session_timeout_is_builtin_timeout_error(apps):
    app = await apps.new(svc_name("alone"))
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError) as e:
        await app.listen_for_session(timeout=ms(200))
    assert isinstance(e.value, TimeoutError)
    assert 0.15 <= loop.time() - start < 5


# ---- the module functions, used directly ----------------------------------------


@pytest.mark.asyncio
async def test_module_functions_anycast_defaults_and_reply(node, apps):
    alice_name, bob_name = svc_name("alice"), svc_name("bob")
    alice = await raw_service(apps, alice_name)
    bob = await raw_service(apps, bob_name)
    assert isinstance(alice, PyService)
    assert isinstance(alice.id, int) and alice.id == alice.name.id
    assert alice.name.equal_without_id(alice_name)

    aconn = await raw_connect(alice, node)
    bconn = await raw_connect(bob, node)
    assert isinstance(aconn, int) and isinstance(bconn, int)
    assert await slim_bindings.set_route(alice, aconn, bob_name) is None

    cfg = PySessionConfiguration.Anycast(timeout=ms(800), max_retries=4)
    ctx = await slim_bindings.create_session(alice, cfg)
    assert isinstance(ctx, PySessionContext)
    assert isinstance(ctx.id, int) and 0 <= ctx.id < 2**32
    assert ctx.session_type == PySessionType.ANYCAST
    assert ctx.dst is None
    assert ctx.src == alice.name
    assert ctx.metadata == {}
    assert ctx.session_config == cfg

    # defaults: payload type "msg", no metadata; the payload comes back as bytes
    assert await slim_bindings.publish(alice, ctx, 1, b"first", name=bob_name) is None
    bctx = await listen_raw(bob)
    assert isinstance(bctx, PySessionContext)
    assert bctx.id == ctx.id
    assert bctx.session_type == PySessionType.ANYCAST
    assert bctx.dst is None
    assert bctx.src == bob.name
    mctx, payload = await recv_raw(bob, bctx)
    assert isinstance(mctx, PyMessageContext)
    assert type(payload) is bytes and payload == b"first"
    assert mctx.payload_type == "msg"
    assert mctx.metadata == {}
    assert mctx.source_name == alice.name
    assert mctx.destination_name.equal_without_id(bob_name)
    assert isinstance(mctx.input_connection, int)

    # every keyword, and a list of ints as payload
    await slim_bindings.publish(
        alice,
        ctx,
        1,
        list(b"second"),
        name=bob_name,
        payload_type="application/json",
        metadata={"k": "v", "trace": "1"},
    )
    mctx, payload = await recv_raw(bob, bctx)
    assert payload == b"second"
    assert mctx.payload_type == "application/json"
    assert mctx.metadata.get("k") == "v" and mctx.metadata.get("trace") == "1"

    # reply with message_ctx: goes back to the sender
    await slim_bindings.publish(bob, bctx, 1, b"reply", message_ctx=mctx)
    rctx, payload = await recv_raw(alice, ctx)
    assert payload == b"reply"
    assert rctx.source_name == bob.name

    # an anycast session with neither name nor message_ctx has no destination
    e = await expect_error(slim_bindings.publish(alice, ctx, 1, b"where?"), 10)
    assert type(e) is Exception, repr(e)
    assert "either name or message_ctx must be provided for publish" in str(e), str(e)

    assert await slim_bindings.delete_session(alice, ctx) is None
    with pytest.raises(Exception):
        ctx.id


@pytest.mark.asyncio
async def test_module_functions_unicast_session_config(node, apps):
    bob_name = svc_name("bob")
    alice = await raw_service(apps, svc_name("alice"))
    bob = await raw_service(apps, bob_name)
    aconn = await raw_connect(alice, node)
    await raw_connect(bob, node)
    await slim_bindings.set_route(alice, aconn, bob_name)

    cfg = PySessionConfiguration.Unicast(
        bob_name, timeout=secs(1), max_retries=5, metadata={"topic": "api"}
    )
    ctx = await asyncio.wait_for(slim_bindings.create_session(alice, cfg), 15)
    assert ctx.session_type == PySessionType.UNICAST
    assert 0 <= ctx.id < 2**32
    assert ctx.src == alice.name
    assert isinstance(ctx.dst, PyName) and ctx.dst.equal_without_id(bob_name)
    assert ctx.metadata == {"topic": "api"}
    assert ctx.session_config == cfg

    await slim_bindings.publish(alice, ctx, 1, b"to bob")  # to the session's peer
    bctx = await listen_raw(bob)
    assert bctx.session_type == PySessionType.UNICAST
    assert bctx.id == ctx.id
    assert bctx.src == bob.name
    assert bctx.dst == alice.name
    assert bctx.metadata == {"topic": "api"}
    assert isinstance(bctx.session_config, PySessionConfiguration.Unicast)
    mctx, payload = await recv_raw(bob, bctx)
    assert payload == b"to bob" and mctx.source_name == alice.name
    await slim_bindings.publish(bob, bctx, 1, b"to alice")
    _, payload = await recv_raw(alice, ctx)
    assert payload == b"to alice"

    # set_session_config: same kind is reported, another kind raises
    new = PySessionConfiguration.Unicast(
        bob_name, timeout=secs(2), max_retries=7, metadata={"topic": "other"}
    )
    assert ctx.set_session_config(new) is None
    assert ctx.session_config == new
    for wrong in (
        PySessionConfiguration.Anycast(),
        PySessionConfiguration.Multicast(svc_name("chan")),
    ):
        with pytest.raises(Exception):
            ctx.set_session_config(wrong)
        assert ctx.session_config == new
    # the session still works
    await slim_bindings.publish(alice, ctx, 1, b"still")
    _, payload = await recv_raw(bob, bctx)
    assert payload == b"still"

    # set_default_session_config: synchronous, returns None; MLS anycast refused
    assert not inspect.iscoroutinefunction(slim_bindings.set_default_session_config)
    assert slim_bindings.set_default_session_config(bob, PySessionConfiguration.Anycast()) is None
    with pytest.raises(Exception) as e:
        slim_bindings.set_default_session_config(
            bob, PySessionConfiguration.Anycast(mls_enabled=True)
        )
    assert not isinstance(e.value, (TypeError, AttributeError)), repr(e.value)
    e = await expect_error(
        slim_bindings.create_session(alice, PySessionConfiguration.Anycast(mls_enabled=True)), 10
    )
    assert isinstance(e, Exception) and not isinstance(e, asyncio.TimeoutError), repr(e)


@pytest.mark.asyncio
async def test_module_functions_routes_and_subscriptions_take_effect(node, apps):
    bob_name = svc_name("bob")
    alice = await raw_service(apps, svc_name("alice"))
    bob = await raw_service(apps, bob_name)
    aconn = await raw_connect(alice, node)
    bconn = await raw_connect(bob, node)
    await slim_bindings.set_route(alice, aconn, bob_name)
    ctx = await slim_bindings.create_session(alice, PySessionConfiguration.Anycast())

    await slim_bindings.publish(alice, ctx, 1, b"routed", name=bob_name)
    bctx = await listen_raw(bob)  # every later message of ctx comes in this session
    _, got = await recv_raw(bob, bctx)
    assert got == b"routed"

    async def nothing_more(timeout: float = 1.5) -> None:
        try:
            _, got = await asyncio.wait_for(slim_bindings.get_message(bob, bctx), timeout)
        except asyncio.TimeoutError:
            return
        pytest.fail(f"a message arrived: {got!r}")

    # without its route, alice's messages to bob go nowhere
    assert await slim_bindings.remove_route(alice, aconn, bob_name) is None
    try:
        await slim_bindings.publish(alice, ctx, 1, b"unrouted", name=bob_name)
    except Exception:
        pass  # refusing to send is fine; delivering is not
    await nothing_more()
    await slim_bindings.set_route(alice, aconn, bob_name)
    await slim_bindings.publish(alice, ctx, 1, b"routed again", name=bob_name)
    _, got = await recv_raw(bob, bctx)
    assert got == b"routed again"

    # a name bob subscribes reaches bob; after unsubscribe it does not
    extra = svc_name("extra")
    assert await slim_bindings.subscribe(bob, bconn, extra) is None
    await slim_bindings.set_route(alice, aconn, extra)
    await slim_bindings.publish(alice, ctx, 1, b"to extra", name=extra)
    _, got = await recv_raw(bob, bctx)
    assert got == b"to extra"
    assert await slim_bindings.unsubscribe(bob, bconn, extra) is None
    await asyncio.sleep(0.3)  # the node applies it
    try:
        await slim_bindings.publish(alice, ctx, 1, b"to extra again", name=extra)
    except Exception:
        pass
    await nothing_more()
    # bob itself is still reachable
    await slim_bindings.publish(alice, ctx, 1, b"still bob", name=bob_name)
    _, got = await recv_raw(bob, bctx)
    assert got == b"still bob"


@pytest.mark.asyncio
async def test_module_functions_multicast_invite_and_remove(node, apps):
    bob_name, channel = svc_name("bob"), svc_name("channel")
    mod = await raw_service(apps, svc_name("moderator"))
    bob = await raw_service(apps, bob_name)
    mconn = await raw_connect(mod, node)
    await raw_connect(bob, node)

    cfg = PySessionConfiguration.Multicast(channel, max_retries=5, timeout=ms(500))
    ctx = await slim_bindings.create_session(mod, cfg)
    assert ctx.session_type == PySessionType.MULTICAST
    assert ctx.dst is not None and ctx.dst.equal_without_id(channel)
    assert ctx.session_config == cfg

    await slim_bindings.set_route(mod, mconn, bob_name)
    listening = asyncio.create_task(slim_bindings.listen_for_session(bob))
    assert await asyncio.wait_for(slim_bindings.invite(mod, ctx, bob_name), 20) is None
    bctx = await asyncio.wait_for(listening, 10)
    assert bctx.session_type == PySessionType.MULTICAST
    assert bctx.id == ctx.id
    assert bctx.dst is not None and bctx.dst.equal_without_id(channel)

    await slim_bindings.publish(mod, ctx, 1, b"to the group")
    mctx, payload = await recv_raw(bob, bctx)
    assert payload == b"to the group"
    assert mctx.source_name == mod.name
    assert mctx.destination_name.equal_without_id(channel)

    assert await asyncio.wait_for(slim_bindings.remove(mod, ctx, bob_name), 20) is None
    e = await expect_error(slim_bindings.get_message(bob, bctx), 15)
    assert type(e) is Exception, repr(e)


def test_init_tracing_acts_when_not_awaited(monkeypatch):
    calls = []
    real = _slim_bindings._set_log_level

    def spy(level):
        calls.append(level)
        return real(level)

    monkeypatch.setattr(_slim_bindings, "_set_log_level", spy)
    # as if this process had not called it yet (only the first call takes effect)
    monkeypatch.setattr(slim_bindings._service, "_tracing_done", False)

    result = slim_bindings.init_tracing({"log_level": "info"})  # never awaited
    assert calls == ["info"]
    assert not inspect.iscoroutine(result)  # no "never awaited" coroutine left behind
    assert inspect.isawaitable(result)

    # only the first call takes effect
    slim_bindings.init_tracing({"log_level": "debug"})
    assert calls == ["info"]


@pytest.mark.asyncio
async def test_init_tracing_is_awaitable():
    assert await slim_bindings.init_tracing({"log_level": "info"}) is None


# ---- servers run by apps ---------------------------------------------------------


def server_configs():
    port = free_port()
    return (
        {"endpoint": f"127.0.0.1:{port}", "tls": {"insecure": True}},
        {"endpoint": f"http://127.0.0.1:{port}", "tls": {"insecure": True}},
    )


@pytest.mark.asyncio
async def test_run_server_twice_refused_and_stop_server(apps):
    server_cfg, client_cfg = server_configs()
    srv = await apps.new(svc_name("server"))
    assert await asyncio.wait_for(srv.run_server(server_cfg), 10) is None

    # listening twice on one endpoint is refused (by this app, and by another)
    e = await expect_error(srv.run_server(server_cfg), 10)
    assert isinstance(e, Exception) and not isinstance(e, asyncio.TimeoutError), repr(e)
    other = await apps.new(svc_name("other"))
    e = await expect_error(other.run_server(server_cfg), 10)
    assert isinstance(e, Exception) and not isinstance(e, asyncio.TimeoutError), repr(e)

    # apps connect to it directly, no node in between
    cli = await apps.new(svc_name("client"))
    conn = await asyncio.wait_for(cli.connect(client_cfg), 15)
    assert cli.conn_ids == {client_cfg["endpoint"]: conn}

    # after stop_server nobody can connect there any more
    assert await asyncio.wait_for(srv.stop_server(server_cfg["endpoint"]), 10) is None
    late = await apps.new(svc_name("late"))
    e = await expect_error(late.connect(client_cfg), 20)
    assert isinstance(e, Exception) and not isinstance(e, asyncio.TimeoutError), repr(e)
    assert client_cfg["endpoint"] not in late.conn_ids
    # stopping it again: there is nothing to stop
    e = await expect_error(srv.stop_server(server_cfg["endpoint"]), 10)
    assert isinstance(e, Exception) and not isinstance(e, asyncio.TimeoutError), repr(e)
    # and the endpoint can be served again
    await asyncio.wait_for(srv.run_server(server_cfg), 10)
    await asyncio.wait_for(late.connect(client_cfg), 15)


@pytest.mark.asyncio
async def test_app_server_direct_unicast_session(apps):
    server_cfg, client_cfg = server_configs()
    srv_name = svc_name("server")
    srv = await apps.new(srv_name)
    await asyncio.wait_for(srv.run_server(server_cfg), 10)
    cli = await apps.new(svc_name("client"))
    await asyncio.wait_for(cli.connect(client_cfg), 15)
    await cli.set_route(srv_name)

    s = await asyncio.wait_for(
        cli.create_session(PySessionConfiguration.Unicast(srv_name, timeout=secs(1), max_retries=5)),
        15,
    )
    await s.publish(b"ping")
    r = await listen(srv)
    assert r.session_type == PySessionType.UNICAST and r.id == s.id
    ctx, payload = await recv(r)
    assert payload == b"ping" and ctx.source_name == cli.local_name
    await r.publish_to(ctx, b"pong")
    ctx, payload = await recv(s)
    assert payload == b"pong" and ctx.source_name == srv.local_name
    await r.publish(b"pong 2")
    _, payload = await recv(s)
    assert payload == b"pong 2"


# ---- client config spellings -----------------------------------------------------


@pytest.mark.asyncio
async def test_client_config_spellings(node, apps):
    endpoint = node.client_config["endpoint"]

    # unknown keys are ignored
    a = await apps.new(svc_name("a"), node, connect=False)
    conn = await asyncio.wait_for(
        a.connect({"endpoint": endpoint, "tls": {"insecure": True}, "buffer_size": 1024, "foo": 1}),
        15,
    )
    assert isinstance(conn, int) and a.conn_ids == {endpoint: conn}

    # upstream's documented keys with their default values
    b = await apps.new(svc_name("b"), node, connect=False)
    full = {
        "endpoint": endpoint,
        "tls": {"insecure": True, "insecure_skip_verify": False},
        "keepalive": {
            "tcp_keepalive": "60s",
            "http2_keepalive": "60s",
            "timeout": "10s",
            "keep_alive_while_idle": False,
        },
        "connect_timeout": "0s",
        "request_timeout": "0s",
        "headers": {},
        "auth": "none",
    }
    conn = await asyncio.wait_for(b.connect(full), 15)
    assert isinstance(conn, int)

    # and the connections work: a message from a to b
    await a.set_route(b.local_name)
    s = await a.create_session(PySessionConfiguration.Anycast())
    await s.publish_with_destination(b"over configured links", b.local_name)
    r = await listen(b)
    _, payload = await recv(r)
    assert payload == b"over configured links"

    csvc, c = await raw_app(apps, svc_name("c"))
    # no endpoint: Exception (not a KeyError of the wrapper)
    e = await expect_error(c.connect({"tls": {"insecure": True}}), 10)
    assert type(e) is Exception, repr(e)
    e = await expect_error(slim_bindings.connect(csvc, {"tls": {"insecure": True}}), 10)
    assert type(e) is Exception, repr(e)
    # not a dict: TypeError
    for bad in (endpoint, [("endpoint", endpoint)], None):
        e = await expect_error(slim_bindings.connect(csvc, bad), 10)
        assert isinstance(e, TypeError), repr(e)
    assert c.conn_ids == {}


# ---- JWT identities --------------------------------------------------------------


def ec_keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    return private, public


ISSUER = "https://issuer.slim-tests.example"
AUDIENCE = "slim-binding-tests"


def jwt_identity(private: PyKeyData, public: PyKeyData, subject: str, audience: str = AUDIENCE):
    provider = PyIdentityProvider.Jwt(
        private_key=PyKey(PyAlgorithm.ES256, PyKeyFormat.Pem, private),
        duration=datetime.timedelta(hours=1),
        issuer=ISSUER,
        audience=[AUDIENCE],
        subject=subject,
    )
    verifier = PyIdentityVerifier.Jwt(
        public_key=PyKey(PyAlgorithm.ES256, PyKeyFormat.Pem, public),
        audience=[audience],
        require_aud=True,
    )
    return provider, verifier


async def jwt_app(apps, node, name: PyName, private, public, audience=AUDIENCE):
    subject = "/".join(name.components_strings())
    app = await Slim.new(name, *jwt_identity(private, public, subject, audience))
    apps.made.append(app)
    await asyncio.wait_for(app.connect(node.client_config), 15)
    return app


async def jwt_exchange(apps, node, private, public):
    alice_name, bob_name = svc_name("alice"), svc_name("bob")
    alice = await jwt_app(apps, node, alice_name, private, public)
    bob = await jwt_app(apps, node, bob_name, private, public)
    for app in (alice, bob):
        assert app.id != NULL_ID  # the id derives from the subject

    await alice.set_route(bob_name)
    s = await asyncio.wait_for(
        alice.create_session(
            PySessionConfiguration.Unicast(bob_name, timeout=secs(1), max_retries=5)
        ),
        15,
    )
    await s.publish(b"signed hello")
    r = await listen(bob)
    ctx, payload = await recv(r)
    assert payload == b"signed hello"
    assert ctx.source_name == alice.local_name
    await r.publish_to(ctx, b"signed reply")
    ctx, payload = await recv(s)
    assert payload == b"signed reply"
    assert ctx.source_name == bob.local_name


@pytest.mark.asyncio
async def test_jwt_apps_exchange_messages(node, apps):
    private, public = ec_keys()
    await jwt_exchange(apps, node, PyKeyData.Content(private), PyKeyData.Content(public))


@pytest.mark.asyncio
async def test_jwt_keys_from_files(node, apps, tmp_path):
    private, public = ec_keys()
    (tmp_path / "signing.pem").write_text(private)
    (tmp_path / "verifying.pem").write_text(public)
    await jwt_exchange(
        apps,
        node,
        PyKeyData.File(str(tmp_path / "signing.pem")),
        PyKeyData.File(str(tmp_path / "verifying.pem")),
    )


def xxh3_app_id(text: str) -> int:
    """docs/identity.md: XXH3-128 (seed 0) of the provider id, the reserved top 51
    values reduced modulo 2**128 - 51."""
    xxhash = pytest.importorskip("xxhash")
    h = xxhash.xxh3_128_intdigest(text.encode())
    return h % (2**128 - 51) if h >= 2**128 - 51 else h


@pytest.mark.asyncio
async def test_jwt_app_id_derives_from_subject(apps):
    private, public = ec_keys()
    priv, pub = PyKeyData.Content(private), PyKeyData.Content(public)
    name = svc_name("alice")

    async def new(subject):
        app = await Slim.new(name, *jwt_identity(priv, pub, subject))
        apps.made.append(app)
        return app

    a = await new("spiffe://test/alice")
    b = await new("spiffe://test/alice")
    c = await new("spiffe://test/carol")
    assert a.id == b.id  # same subject, same id (no random suffix as with secrets)
    assert a.id != c.id
    assert a.local_name.id == a.id
    assert a.id == xxh3_app_id("spiffe://test/alice")
    assert c.id == xxh3_app_id("spiffe://test/carol")
    # without a subject the app keeps the NULL id (docs/jwt.md)
    d = await new(None)
    assert d.id == NULL_ID


@pytest.mark.asyncio
async def test_jwt_wrong_audience_refused(node, apps):
    private, public = ec_keys()
    priv, pub = PyKeyData.Content(private), PyKeyData.Content(public)
    alice_name, bob_name = svc_name("alice"), svc_name("bob")
    alice = await jwt_app(apps, node, alice_name, priv, pub)
    # bob accepts only tokens for another audience
    bob = await jwt_app(apps, node, bob_name, priv, pub, audience="someone-else")
    await alice.set_route(bob_name)

    loop = asyncio.get_running_loop()
    start = loop.time()

    async def open_and_use():
        s = await alice.create_session(
            PySessionConfiguration.Unicast(bob_name, timeout=ms(500), max_retries=2)
        )
        await s.publish(b"let me in")
        await s.get_message()

    e = await expect_error(open_and_use(), 20)
    assert type(e) is Exception, repr(e)
    assert loop.time() - start < 15

    # an anycast message is not delivered either
    s = await alice.create_session(PySessionConfiguration.Anycast())
    try:
        await s.publish_with_destination(b"anyone?", bob_name)
    except Exception:
        pass
    assert await nothing_arrives(bob, 2)


# ---- SLIMTimeoutError and version functions ----------------------------------------


def test_slim_timeout_error_attributes_and_text():
    e = SLIMTimeoutError(42, 7)
    assert isinstance(e, asyncio.TimeoutError) and isinstance(e, TimeoutError)
    assert e.message_id == 42 and e.session_id == 7
    assert e.message == "SLIM timeout error" and e.original_exception is None
    assert str(e) == "SLIM timeout error for session 7 and message 42"

    cause = RuntimeError("lost")
    e = SLIMTimeoutError(1, 2, "gave up", cause)
    assert (e.message_id, e.session_id, e.message, e.original_exception) == (
        1,
        2,
        "gave up",
        cause,
    )
    assert str(e) == "gave up for session 2 and message 1. Caused by: RuntimeError('lost')"
    try:
        raise e
    except TimeoutError as caught:  # caught as the builtin timeout
        assert caught is e


def test_version_functions_shape():
    v = slim_bindings.get_version()
    assert isinstance(v, str) and v.strip()
    assert re.match(r"^\S+$", v.strip()), repr(v)
    p = slim_bindings.get_build_profile()
    assert isinstance(p, str) and p.strip()
    info = slim_bindings.get_build_info()
    assert isinstance(info, str)
    m = re.fullmatch(
        r"Version:\t(.*)\nBuild Date:\t(.*)\nGit SHA:\t(.*)\nProfile:\t(.*)", info
    )
    assert m, repr(info)
    assert m.group(1) == v.rstrip("\n")
    assert m.group(4) == p
    assert m.group(2).strip() and m.group(3).strip()


# ---- TLS with upstream's config spellings ---------------------------------------


@pytest.fixture
def certs(tmp_path):
    """The transport tests' certificates (tests/transport_certs.sh): a CA, a server
    certificate for 127.0.0.1, a client certificate, and another CA."""
    script = pathlib.Path(__file__).resolve().parents[3] / "tests" / "transport_certs.sh"
    subprocess.run(["sh", str(script), str(tmp_path)], check=True, capture_output=True)
    return tmp_path


@pytest.mark.asyncio
async def test_connect_tls_with_upstream_spellings(certs, apps):
    # mTLS node: server certificate, and client certificates from the CA required
    node = Node(
        tls=f'{{cert_file: "{certs}/server.pem", key_file: "{certs}/server.key", '
        f'client_ca_file: "{certs}/ca.pem"}}'
    )
    node.start()
    try:
        assert node.endpoint.startswith("https://")
        cfg = {
            "endpoint": node.endpoint,
            "tls": {
                "ca_file": f"{certs}/ca.pem",
                "cert_file": f"{certs}/client.pem",
                "key_file": f"{certs}/client.key",
            },
        }
        alice_name, bob_name = svc_name("alice"), svc_name("bob")
        alice = await apps.new(alice_name, None, connect=False)
        bob = await apps.new(bob_name, None, connect=False)
        assert isinstance(await alice.connect(cfg), int)
        await bob.connect(cfg)
        await alice.set_route(bob_name)
        s = await alice.create_session(
            PySessionConfiguration.Unicast(bob_name, timeout=secs(1), max_retries=5)
        )
        await s.publish(b"over tls")
        r = await listen(bob)
        ctx, payload = await recv(r)
        assert payload == b"over tls" and ctx.source_name == alice.local_name

        # a CA that did not sign the node's certificate: refused
        other = await apps.new(svc_name("carol"), None, connect=False)
        wrong = dict(cfg, tls=dict(cfg["tls"], ca_file=f"{certs}/other-ca.pem"))
        e = await expect_error(other.connect(wrong), 30)
        assert type(e) is Exception, repr(e)
        # no client certificate: the node refuses the handshake
        e = await expect_error(other.connect(dict(cfg, tls={"ca_file": f"{certs}/ca.pem"})), 30)
        assert type(e) is Exception, repr(e)
    finally:
        node.close()
