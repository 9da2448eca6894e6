"""A group chat on a channel: the user's scenario.

The moderator (``--remote`` names the channel) creates the group, invites each
``--invites`` name, and says what it reads on standard input, one message per line
(or ``--message TEXT`` ``--count N`` times, without a person). Participants (no
``--remote``) wait to be invited and print what the group says; with ``--message``
they join the conversation once it has started (after the first message they
receive), since a newcomer never reads what was said before it joined.

    python3 multicast.py --local org/ns/client-1 --shared-secret SECRET
    python3 multicast.py --local org/ns/moderator --remote org/ns/chat \\
        --invites org/ns/client-1 --invites org/ns/client-2 --enable-mls \\
        --shared-secret SECRET

``--expect N`` stops an app once it has received N messages (after ``--grace``
seconds for its own to reach everyone); the moderator then ends the group, which
ends the participants too.
"""

from __future__ import annotations

import asyncio
import datetime
import sys

import click

from common import common_options, create_local_app, format_message_print, split_id

import slim_bindings


async def receive_loop(local: str, session, received: asyncio.Queue) -> str:
    """Prints every message of the group; returns why it stopped."""
    while True:
        try:
            ctx, payload = await session.get_message()
        except asyncio.CancelledError:
            return "stopped"
        except Exception as e:  # the session ended (moderator closed it, removed, ...)
            return f"the session ended: {e}"
        format_message_print(
            local, f"<- {ctx.source_name.components_strings()[2]}: {payload.decode()}"
        )
        received.put_nowait(ctx)


async def say(local: str, session, lines) -> int:
    n = 0
    async for line in lines:
        await session.publish(line.encode())
        format_message_print(local, f"-> {line}")
        n += 1
    return n


async def scripted(message: str, count: int, interval: float):
    for i in range(count):
        if i:
            await asyncio.sleep(interval)
        yield message if count == 1 else f"{message} ({i + 1}/{count})"


async def stdin_lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        text = line.decode().rstrip("\n")
        if text:
            yield text


async def until_done(received: asyncio.Queue, expect, reader, timeout) -> bool:
    """Until `expect` messages were received (None: until the session ends).
    False when `timeout` passed first."""

    async def counted():
        if expect is None:
            await asyncio.Event().wait()
        for _ in range(expect):
            await received.get()

    counter = asyncio.create_task(counted())
    done, _ = await asyncio.wait(
        {counter, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    counter.cancel()
    return bool(done)


async def run(
    local, remote, slim, invites, enable_mls, message, count, interval, expect, grace,
    timeout, identity
):
    app = await create_local_app(local, slim, **identity)
    received: asyncio.Queue = asyncio.Queue()

    if remote:  # the moderator
        channel = split_id(remote)
        session = await app.create_session(
            slim_bindings.PySessionConfiguration.Multicast(
                channel_name=channel,
                max_retries=5,
                timeout=datetime.timedelta(seconds=5),
                mls_enabled=enable_mls,
            )
        )
        mls = "with MLS (end-to-end encrypted)" if enable_mls else "without MLS"
        format_message_print(local, f"created the group on channel {remote} {mls}")
        for invite in invites:
            invite_name = split_id(invite)
            await app.set_route(invite_name)
            await session.invite(invite_name)
            format_message_print(local, f"-> add {invite_name} to the group")
    else:  # a participant
        format_message_print(local, "-> Waiting for session...")
        session = await app.listen_for_session()
        format_message_print(
            local, f"joined the group on channel {session.dst.components_strings()[2]}"
        )

    reader = asyncio.create_task(receive_loop(local, session, received))
    try:
        if message is not None:
            if not remote:  # speak once the conversation has started
                first = await received.get()
                received.put_nowait(first)  # still counts
            await say(local, session, scripted(message, count, interval))
        elif remote:
            await say(local, session, stdin_lines())
        if not await until_done(received, expect, reader, timeout):
            format_message_print(local, f"gave up: {expect} messages not received in {timeout} s")
            return 1
        if not reader.done():
            await asyncio.sleep(grace)  # our last messages reach everyone
    finally:
        if remote:
            await session.delete()
            format_message_print(local, "ended the group")
        reader.cancel()
        why = await reader
        if not remote and why != "stopped":
            format_message_print(local, why)
        await app.close()
    return 0


@click.command(context_settings={"auto_envvar_prefix": "SLIM"})
@common_options
@click.option(
    "--invites", multiple=True, help="Moderator: a name to invite (repeat the option)."
)
@click.option("--enable-mls", is_flag=True, help="Moderator: encrypt the group with MLS.")
@click.option("--message", help="Say this instead of reading standard input.")
@click.option("--count", default=1, show_default=True, help="How many times to say it.")
@click.option(
    "--interval", default=0.2, show_default=True, help="Seconds between two messages."
)
@click.option("--expect", type=int, help="Stop after receiving this many messages.")
@click.option(
    "--grace", default=1.0, show_default=True, help="Seconds to wait before stopping."
)
@click.option(
    "--timeout", type=float, help="Give up (exit 1) when --expect is not met in time."
)
def main(
    local, remote, slim, shared_secret, jwt, spire_trust_bundle, audience,
    enable_opentelemetry, invites, enable_mls, message, count, interval, expect, grace,
    timeout,
):
    """A group chat: the moderator (with --remote, the channel) invites participants;
    everyone prints what the group says."""
    identity = dict(
        shared_secret=shared_secret, jwt=jwt, spire_trust_bundle=spire_trust_bundle,
        audience=audience,
    )
    try:
        rc = asyncio.run(
            run(local, remote, slim, invites, enable_mls, message, count, interval, expect,
                grace, timeout, identity)
        )
    except KeyboardInterrupt:
        rc = 0
    except Exception as e:
        format_message_print(local, f"error: {e}")
        rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
