"""The user's document (shared/seed/slim-group-creation.md), run as written.

The snippets of "Creating Groups with the Python Bindings" (create the channel,
the invite loop, listen for the session, the get_message loop) run unchanged
against a real `slim` node, MLS on and off. Around them the test only adds
what the document leaves to the program: the moderator publishes, and reads
the replies the participants send back.

split_id and format_message_print are the helpers of upstream's examples
(slim_bindings_examples/common.py), which the snippets call.
"""

from __future__ import annotations

import asyncio
import datetime

import pytest

import slim_bindings
from slim_bindings import PyName

from conftest import unique, wait_for

N_PARTICIPANTS = 3
N_MESSAGES = 5


# ---- upstream's common.py helpers -------------------------------------------


def split_id(id: str) -> PyName:
    """'org/ns/app' -> PyName('org', 'ns', 'app')."""
    try:
        organization, namespace, app = id.split("/")
    except ValueError as e:
        print("Error: IDs must be in the format organization/namespace/app-or-stream.")
        raise e
    return slim_bindings.PyName(organization, namespace, app)


def format_message_print(message1: str, message2: str = "") -> None:
    print(f"{message1.capitalize():<45}{message2}")


# ---- the participant: the document's "Listen for Invitations and Messages" ---


class Participant:
    """One participant app running the document's listen and receive snippets.

    `received` gets (source_name, text) of every message; `ended` says how the
    loop ended ("cancelled", or the Exception); messages that start with "msg-"
    are answered into the group (what upstream's multicast.py example does)."""

    def __init__(self, local: str, local_app):
        self.local = local
        self.local_app = local_app
        self.session = None
        self.received: list[tuple[PyName, str]] = []
        self.ended = None
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        local, local_app = self.local, self.local_app

        format_message_print(local, "-> Waiting for session...")
        session = await local_app.listen_for_session()
        self.session = session

        while True:
            try:
                # Await next inbound message from the multicast session.
                ctx, payload = await session.get_message()
                format_message_print(
                    local,
                    f"-> Received message from {ctx.source_name}: {payload.decode()}",
                )
                self.received.append((ctx.source_name, payload.decode()))
                if payload.startswith(b"msg-"):
                    await session.publish(f"reply-{local}-{payload.decode()}".encode())
            except asyncio.CancelledError:
                # Graceful shutdown path (ctrl-c or program exit).
                self.ended = "cancelled"
                break
            except Exception as e:
                # Non-cancellation error; surface and exit the loop.
                format_message_print(local, f"-> Error receiving message: {e}")
                self.ended = e
                break


# ---- the test ---------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("enable_mls", [False, True], ids=["mls-off", "mls-on"])
async def test_seed_group_creation(node, apps, enable_mls):
    # The participants, each its own app on the node, waiting to be invited.
    invites = [f"org/ns/{unique(f'participant{i}')}" for i in range(N_PARTICIPANTS)]
    participants = []
    for invite in invites:
        p = Participant(invite, await apps.new(split_id(invite), node))
        p.task = asyncio.create_task(p.run())
        participants.append(p)

    local = f"org/ns/{unique('moderator')}"
    local_app = await apps.new(split_id(local), node)
    chat_channel = split_id(f"org/ns/{unique('chat')}")

    # ---- "Create the Channel" ----
    created_session = await local_app.create_session(
        slim_bindings.PySessionConfiguration.Multicast(  # type: ignore
            channel_name=chat_channel,
            max_retries=5,
            timeout=datetime.timedelta(seconds=5),
            mls_enabled=enable_mls,
        )
    )

    # ---- "Invite Participants to the Channel" ----
    for invite in invites:
        invite_name = split_id(invite)
        await local_app.set_route(invite_name)
        await created_session.invite(invite_name)
        print(f"{local} -> add {invite_name} to the group")

    # Every participant got its session from listen_for_session.
    assert await wait_for(lambda: all(p.session is not None for p in participants), 20), [
        (p.local, p.task.done() and p.task.exception()) for p in participants
    ]
    for p in participants:
        assert p.session.session_type == slim_bindings.PySessionType.MULTICAST
        assert p.session.dst.equal_without_id(chat_channel)  # the channel (its id is the group's)
        assert p.session.session_config.mls_enabled == enable_mls

    # ---- the moderator talks to the group ----
    sent = [f"msg-{i} from {local}" for i in range(N_MESSAGES)]
    for text in sent:
        await created_session.publish(text.encode())

    def got_all(p):
        return [t for _, t in p.received if t.startswith("msg-")] == sent

    assert await wait_for(lambda: all(got_all(p) for p in participants), 30), [
        (p.local, p.received, p.ended) for p in participants
    ]
    for p in participants:
        for source_name, text in p.received:
            if text.startswith("msg-"):
                assert source_name == local_app.local_name, (source_name, text)
                assert source_name.components_strings() == local.split("/")

    # ---- the participants' replies reach the moderator ----
    expected_replies = {
        f"reply-{p.local}-{text}": p.local_app.local_name for p in participants for text in sent
    }
    replies = {}

    async def read_replies():
        while len(replies) < len(expected_replies):
            ctx, payload = await created_session.get_message()
            replies[payload.decode()] = ctx.source_name

    await asyncio.wait_for(read_replies(), 30)
    assert replies == expected_replies
    # Participants also hear each other's replies (a group: everyone but the sender).
    for p in participants:
        others = {t for t in expected_replies if not t.startswith(f"reply-{p.local}-")}
        assert await wait_for(lambda: others <= {t for _, t in p.received}, 20), (
            p.local,
            p.received,
        )

    # ---- the participant loop ends by cancellation, cleanly ----
    first = participants[0]
    first.task.cancel()
    await asyncio.wait_for(asyncio.gather(first.task, return_exceptions=True), 10)
    assert not first.task.cancelled()  # the loop took the CancelledError and broke out
    assert first.task.exception() is None
    assert first.ended == "cancelled"

    # ---- the moderator deletes the session: the others' loops end by an Exception ----
    rest = participants[1:]
    assert all(not p.task.done() for p in rest), [(p.local, p.ended) for p in rest]
    await local_app.delete_session(created_session)
    done, pending = await asyncio.wait([p.task for p in rest], timeout=30)
    assert not pending, [p.local for p in rest if not p.task.done()]
    for p in rest:
        assert p.task.exception() is None
        assert isinstance(p.ended, Exception) and not isinstance(
            p.ended, asyncio.CancelledError
        ), p.ended
        assert "error receiving message" in str(p.ended), str(p.ended)
