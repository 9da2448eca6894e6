"""Point-to-point sessions: request and reply.

Without ``--message`` the app answers: it waits for sessions and replies to every
message with the same text and its own name. With ``--message`` it asks: it sends
the message ``--iterations`` times to ``--remote`` and prints each reply.

    python3 point_to_point.py --local org/ns/bob --shared-secret SECRET
    python3 point_to_point.py --local org/ns/alice --remote org/ns/bob \\
        --message hello --iterations 3 --shared-secret SECRET            # anycast
    python3 point_to_point.py ... --unicast [--enable-mls]               # unicast

Anycast sends each message to any instance of the name (run two answerers and see
the replies alternate); unicast discovers one instance and sticks to it, and can be
encrypted end to end with MLS.
"""

from __future__ import annotations

import asyncio
import datetime
import sys

import click

from common import common_options, create_local_app, format_message_print, split_id

import slim_bindings


async def answer(local: str, app) -> None:
    """Replies to every message of every session, until interrupted."""

    async def serve(session) -> None:
        sid = session.id  # kept: a session that ended no longer says its id
        while True:
            try:
                ctx, payload = await session.get_message()
            except Exception as e:
                format_message_print(local, f"session {sid} ended: {e}")
                return
            text = payload.decode()
            format_message_print(local, f"<- {ctx.source_name}: {text}")
            await session.publish_to(ctx, f"{text} from {local}".encode())

    tasks = set()
    while True:
        format_message_print(local, "-> Waiting for session...")
        session = await app.listen_for_session()
        kind = slim_bindings.PySessionType(session.session_type).name.lower()
        format_message_print(local, f"new {kind} session {session.id}")
        task = asyncio.create_task(serve(session))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def ask(local, app, remote, message, iterations, unicast, enable_mls, reply_timeout):
    peer = split_id(remote)
    await app.set_route(peer)
    if unicast:
        session = await app.create_session(
            slim_bindings.PySessionConfiguration.Unicast(
                unicast_name=peer,
                max_retries=5,
                timeout=datetime.timedelta(seconds=5),
                mls_enabled=enable_mls,
            )
        )
    else:
        session = await app.create_session(slim_bindings.PySessionConfiguration.Anycast())
    for i in range(iterations):
        text = f"{message} ({i + 1}/{iterations})" if iterations > 1 else message
        if unicast:
            await session.publish(text.encode())
        else:
            await session.publish_with_destination(text.encode(), peer)
        format_message_print(local, f"-> {text}")
        try:
            ctx, payload = await asyncio.wait_for(session.get_message(), reply_timeout)
        except asyncio.TimeoutError:
            format_message_print(local, f"no reply within {reply_timeout} s")
            return 1
        format_message_print(local, f"<- {ctx.source_name}: {payload.decode()}")
    await session.delete()
    return 0


async def run(local, slim, identity, remote, message, iterations, unicast, enable_mls, timeout):
    app = await create_local_app(local, slim, **identity)
    try:
        if message is None:
            await answer(local, app)
            return 0
        if not remote:
            raise click.UsageError("--message needs --remote (who to ask)")
        return await ask(local, app, remote, message, iterations, unicast, enable_mls, timeout)
    finally:
        await app.close()


@click.command(context_settings={"auto_envvar_prefix": "SLIM"})
@common_options
@click.option("--message", help="Ask this (else: answer others).")
@click.option("--iterations", default=1, show_default=True, help="How many times to ask.")
@click.option("--unicast", is_flag=True, help="A unicast session (default: anycast).")
@click.option("--enable-mls", is_flag=True, help="Unicast: encrypt with MLS.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for a reply.")
def main(
    local, remote, slim, shared_secret, jwt, spire_trust_bundle, audience,
    enable_opentelemetry, message, iterations, unicast, enable_mls, timeout,
):
    """Request and reply over a point-to-point session."""
    if enable_mls and not unicast:
        raise click.UsageError("--enable-mls needs --unicast (anycast sessions have no MLS)")
    identity = dict(
        shared_secret=shared_secret, jwt=jwt, spire_trust_bundle=spire_trust_bundle,
        audience=audience,
    )
    try:
        rc = asyncio.run(
            run(local, slim, identity, remote, message, iterations, unicast, enable_mls,
                timeout)
        )
    except KeyboardInterrupt:
        rc = 0
    except click.UsageError:
        raise
    except Exception as e:
        format_message_print(local, f"error: {e}")
        rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
