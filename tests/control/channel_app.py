"""An application for the channel tests, on slim_bindings: it connects to a
node, waits for a session (listen_for_session: made by the controller for a
moderator, by an invitation for a participant), then as the moderator
publishes numbered lines and as a participant prints what it receives.

    channel_app.py NAME ENDPOINT SECRET moderator|participant
It prints "ready" once connected, "refused N" when its library has dropped
N controller requests (a token its verifier refused), "session <channel>"
when it has one, and "received <text>" per message; the moderator
publishes each line it reads on standard input ("quit" ends it).
"""
import asyncio
import sys

import slim_bindings


def name(text):
    p = text.split("/")
    return slim_bindings.PyName(p[0], p[1], p[2])


async def refusals(app):
    """Prints "refused N" each time the library drops a controller request."""
    seen = 0
    while True:
        n = app.counters()["controller_requests_refused"]
        if n != seen:
            seen = n
            print("refused", n, flush=True)
        await asyncio.sleep(0.05)


async def main(local, endpoint, secret, role):
    provider = slim_bindings.PyIdentityProvider.SharedSecret(identity=local, shared_secret=secret)
    verifier = slim_bindings.PyIdentityVerifier.SharedSecret(identity=local, shared_secret=secret)
    app = await slim_bindings.Slim.new(name(local), provider, verifier)
    await app.connect({"endpoint": endpoint, "tls": {"insecure": True}})
    print("ready", flush=True)
    watch = asyncio.ensure_future(refusals(app))
    session = await app.listen_for_session()
    watch.cancel()
    print("session", session.dst, flush=True)
    if role == "moderator":
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            await session.publish(line.strip().encode())
            print("sent", line.strip(), flush=True)
    else:
        while True:
            try:
                ctx, payload = await session.get_message()
            except Exception as e:  # the session ended
                print("closed", e, flush=True)
                break
            print("received", payload.decode(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
