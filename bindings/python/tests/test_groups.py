"""Groups (MULTICAST sessions) and session metadata through slim_bindings, on a real node.

A big group where nothing is lost and each sender's order holds; metadata given
at creation reaching the invitees and the peer; an invite nobody answers; removing
a member; invite/remove on point-to-point sessions; the moderator ending the group.
"""

from __future__ import annotations

import asyncio
import datetime
import time

import pytest

import slim_bindings
from slim_bindings import PyName, PySessionConfiguration, PySessionType

from conftest import unique, wait_for

RELIABLE = dict(max_retries=10, timeout=datetime.timedelta(seconds=1))


def split_id(id: str) -> PyName:
    """'org/ns/app' -> PyName('org', 'ns', 'app') (upstream's examples' common.py)."""
    organization, namespace, app = id.split("/")
    return slim_bindings.PyName(organization, namespace, app)


def fresh(prefix: str) -> PyName:
    return PyName("org", "ns", unique(prefix))


class Member:
    def __init__(self, name: PyName, app):
        self.name = name
        self.app = app
        self.session = None
        self.received: list[tuple[PyName, bytes]] = []
        self.error: Exception | None = None
        self.reader: asyncio.Task | None = None

    async def read(self, until: int | None = None) -> None:
        """Reads messages into `received` (until `until` of them, else forever);
        an Exception from get_message ends it and is kept in `error`."""
        while until is None or len(self.received) < until:
            try:
                ctx, payload = await self.session.get_message()
            except Exception as e:
                self.error = e
                return
            self.received.append((ctx.source_name, payload))


async def make_group(apps, node, n: int, *, mls: bool, **config):
    """A moderator (app, session) and n invited members with their sessions."""
    members = [Member(name, await apps.new(name, node)) for name in (fresh(f"m{i}") for i in range(n))]
    listens = [asyncio.create_task(m.app.listen_for_session()) for m in members]
    mod_app = await apps.new(fresh("moderator"), node)
    channel = fresh("channel")
    session = await mod_app.create_session(
        PySessionConfiguration.Multicast(channel_name=channel, mls_enabled=mls, **config)
    )
    for m in members:
        await mod_app.set_route(m.name)
        await session.invite(m.name)
    sessions = await asyncio.wait_for(asyncio.gather(*listens), 30)
    for m, s in zip(members, sessions):
        m.session = s
    return mod_app, session, channel, members


# ---- a big group: nothing lost, per-sender order ------------------------------


@pytest.mark.asyncio
async def test_ten_members_each_send_100_nothing_lost_in_order(node, apps):
    n_members, n_msgs = 10, 100
    mod_app, mod_session, _, members = await make_group(apps, node, n_members, mls=True, **RELIABLE)
    mod = Member(mod_app.local_name, mod_app)
    mod.session = mod_session
    everyone = [mod] + members
    expected = (len(everyone) - 1) * n_msgs  # every message of every other member
    for m in members:
        assert m.session.session_config.mls_enabled
    for m in everyone:
        m.reader = asyncio.create_task(m.read(until=expected))

    async def talk(m: Member):
        tag = m.app.local_name.components_strings()[2]
        for i in range(n_msgs):
            await m.session.publish(f"{tag}:{i}".encode())

    await asyncio.wait_for(asyncio.gather(*(talk(m) for m in everyone)), 30)
    done, pending = await asyncio.wait([m.reader for m in everyone], timeout=45)
    by_tag = {m.app.local_name.components_strings()[2]: m for m in everyone}
    for m in everyone:
        me = m.app.local_name.components_strings()[2]
        assert m.error is None, (me, m.error)
        per_sender: dict[str, list[int]] = {}
        for source, payload in m.received:
            tag, i = payload.decode().split(":")
            assert source == by_tag[tag].app.local_name, (me, source, payload)
            per_sender.setdefault(tag, []).append(int(i))
        assert me not in per_sender, f"{me} got its own messages"
        got = {t: len(v) for t, v in per_sender.items()}
        assert set(per_sender) == set(by_tag) - {me}, (me, got)
        for tag, idx in per_sender.items():
            assert idx == list(range(n_msgs)), (me, tag, got)
    assert not pending


# ---- metadata given at creation reaches the other side --------------------------


@pytest.mark.asyncio
async def test_multicast_metadata_reaches_invitees(node, apps):
    meta = {"team": "blue", "purpose": "metadata test", "x-empty": ""}
    names = [fresh("invitee"), fresh("invitee")]
    invitees = [await apps.new(n, node) for n in names]
    listens = [asyncio.create_task(a.listen_for_session()) for a in invitees]
    mod_app = await apps.new(fresh("moderator"), node)
    session = await mod_app.create_session(
        PySessionConfiguration.Multicast(channel_name=fresh("channel"), metadata=meta, **RELIABLE)
    )
    assert session.metadata == meta
    for n in names:
        await mod_app.set_route(n)
        await session.invite(n)
    got = await asyncio.wait_for(asyncio.gather(*listens), 20)
    for s in got:
        assert s.session_type == PySessionType.MULTICAST
        md = s.metadata
        assert {k: md.get(k) for k in meta} == meta, md


@pytest.mark.asyncio
async def test_unicast_metadata_reaches_peer(node, apps):
    meta = {"request": "weather", "city": "Zürich"}
    peer_name = fresh("peer")
    peer = await apps.new(peer_name, node)
    listen = asyncio.create_task(peer.listen_for_session())
    opener = await apps.new(fresh("opener"), node)
    await opener.set_route(peer_name)
    session = await asyncio.wait_for(
        opener.create_session(
            PySessionConfiguration.Unicast(unicast_name=peer_name, metadata=meta, **RELIABLE)
        ),
        20,
    )
    assert session.metadata == meta
    got = await asyncio.wait_for(listen, 20)
    assert got.session_type == PySessionType.UNICAST
    md = got.metadata
    assert {k: md.get(k) for k in meta} == meta, md
    # and the session works
    await session.publish(b"hello")
    ctx, payload = await asyncio.wait_for(got.get_message(), 10)
    assert payload == b"hello" and ctx.source_name == opener.local_name


# ---- an invite nobody answers -------------------------------------------------


OTHER_SECRET = "a-secret-the-moderator-does-not-know-0123456789abcdef"


@pytest.mark.asyncio
@pytest.mark.parametrize("who", ["nobody-runs-it", "wrong-secret"])
async def test_invite_nobody_answers_raises_exception(node, apps, who):
    mod_app = await apps.new(fresh("moderator"), node)
    session = await mod_app.create_session(
        PySessionConfiguration.Multicast(
            channel_name=fresh("channel"), max_retries=2, timeout=datetime.timedelta(seconds=1)
        )
    )
    ghost = fresh("nobody")
    deaf = None
    if who == "wrong-secret":
        # An app runs the name, but with another secret: it drops the moderator's
        # discovery requests (bad token), so the discovery runs out of retries.
        deaf = await slim_bindings.Slim.new(
            ghost,
            slim_bindings.PyIdentityProvider.SharedSecret(identity="deaf", shared_secret=OTHER_SECRET),
            slim_bindings.PyIdentityVerifier.SharedSecret(identity="deaf", shared_secret=OTHER_SECRET),
        )
        await deaf.connect(node.client_config)
    try:
        await mod_app.set_route(ghost)
        t0 = time.monotonic()
        with pytest.raises(Exception) as ei:
            await asyncio.wait_for(session.invite(ghost), 20)
        elapsed = time.monotonic() - t0
    finally:
        if deaf is not None:
            await deaf.close()
    assert type(ei.value) is Exception, repr(ei.value)
    assert str(ei.value), "the error says nothing"
    assert elapsed < 10, elapsed

    # The failed invite does not block the next one: a real member joins and hears us.
    real_name = fresh("real")
    real = await apps.new(real_name, node)
    listen = asyncio.create_task(real.listen_for_session())
    await mod_app.set_route(real_name)
    await asyncio.wait_for(session.invite(real_name), 20)
    member_session = await asyncio.wait_for(listen, 10)
    await session.publish(b"after the failed invite")
    ctx, payload = await asyncio.wait_for(member_session.get_message(), 10)
    assert payload == b"after the failed invite"
    assert ctx.source_name == mod_app.local_name


# ---- remove() of a member -----------------------------------------------------


@pytest.mark.asyncio
async def test_remove_member_ends_its_session_others_keep_talking(node, apps):
    mod_app, session, _, members = await make_group(apps, node, 3, mls=True, **RELIABLE)
    a, b, c = members
    for m in members:
        m.reader = asyncio.create_task(m.read())

    await session.publish(b"before")
    assert await wait_for(lambda: all(m.received for m in members), 10), [
        m.received for m in members
    ]

    await asyncio.wait_for(session.remove(b.name), 20)
    await asyncio.wait_for(b.reader, 10)  # its pending get_message ended...
    assert isinstance(b.error, Exception), b.error  # ...with an Exception
    with pytest.raises(Exception):
        await asyncio.wait_for(b.session.get_message(), 10)
    b_count = len(b.received)

    # the others keep talking: the moderator to all, a member to the others
    await session.publish(b"after-remove")
    await a.session.publish(b"from-a")
    mod_got = []

    async def mod_read():
        while b"from-a" not in [p for _, p in mod_got]:
            ctx, p = await session.get_message()
            mod_got.append((ctx.source_name, p))

    await asyncio.wait_for(mod_read(), 10)
    assert (a.app.local_name, b"from-a") in mod_got
    assert await wait_for(
        lambda: b"after-remove" in [p for _, p in a.received]
        and {b"after-remove", b"from-a"} <= {p for _, p in c.received},
        10,
    ), (a.received, c.received)
    assert (a.app.local_name, b"from-a") in c.received
    assert a.error is None and c.error is None
    assert len(b.received) == b_count


# ---- invite/remove on point-to-point sessions ------------------------------------

INVITE_P2P = (
    "error in session: error processing message: "
    "cannot invite participant to point-to-point session"
)
REMOVE_P2P = (
    "error in session: error processing message: "
    "cannot remove participant from point-to-point session"
)


async def check_no_invite_remove(session, who: PyName) -> None:
    with pytest.raises(Exception) as ei:
        await session.invite(who)
    assert type(ei.value) is Exception and str(ei.value) == INVITE_P2P, repr(ei.value)
    with pytest.raises(Exception) as ei:
        await session.remove(who)
    assert type(ei.value) is Exception and str(ei.value) == REMOVE_P2P, repr(ei.value)


@pytest.mark.asyncio
async def test_invite_remove_on_point_to_point_sessions_raise(node, apps):
    peer_name = fresh("peer")
    peer = await apps.new(peer_name, node)
    listen = asyncio.create_task(peer.listen_for_session())
    opener = await apps.new(fresh("opener"), node)
    third = fresh("third")
    await opener.set_route(peer_name)

    unicast = await asyncio.wait_for(
        opener.create_session(PySessionConfiguration.Unicast(unicast_name=peer_name, **RELIABLE)),
        20,
    )
    await check_no_invite_remove(unicast, third)
    peer_side = await asyncio.wait_for(listen, 10)
    await check_no_invite_remove(peer_side, third)

    anycast = await opener.create_session(PySessionConfiguration.Anycast())
    await check_no_invite_remove(anycast, third)

    # and the unicast session still works after the refusals
    await unicast.publish(b"still here")
    ctx, payload = await asyncio.wait_for(peer_side.get_message(), 10)
    assert payload == b"still here"


# ---- the moderator's delete ends the group ----------------------------------------


@pytest.mark.asyncio
async def test_moderator_delete_ends_group_for_members(node, apps):
    mod_app, session, _, members = await make_group(apps, node, 2, mls=True, **RELIABLE)
    for m in members:
        m.reader = asyncio.create_task(m.read())
    await session.publish(b"hello")
    assert await wait_for(lambda: all(m.received for m in members), 10)

    await session.delete()
    done, pending = await asyncio.wait([m.reader for m in members], timeout=20)
    assert not pending, "get_message still waiting after the moderator's delete"
    for m in members:
        assert isinstance(m.error, Exception), m.error
        assert "error receiving message" in str(m.error), str(m.error)
        with pytest.raises(Exception):  # and so does every later call
            await asyncio.wait_for(m.session.get_message(), 10)
    with pytest.raises(Exception):  # the moderator's session is gone too
        await session.publish(b"late")
