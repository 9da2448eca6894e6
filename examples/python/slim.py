"""A SLIM node in Python: an app that runs a server (``Slim.run_server``).

Other apps connect to it as to a `slim` node and reach each other (and it)
by name. Stops on Ctrl-C or SIGTERM.

    python3 slim.py --slim '{"endpoint": "127.0.0.1:46357", "tls": {"insecure": true}}'
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import click

from common import DictParamType, create_local_app, format_message_print


async def run(local: str, server: dict, shared_secret: str) -> int:
    app = await create_local_app(local, {}, shared_secret=shared_secret, connect=False)
    await app.run_server(server)
    format_message_print(local, f"node listening on {server['endpoint']}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop_server(server["endpoint"])
    format_message_print(local, "node stopped")
    await app.close()
    return 0


@click.command(context_settings={"auto_envvar_prefix": "SLIM"})
@click.option("--local", default="cisco/default/slim", show_default=True, help="The node's name.")
@click.option(
    "--slim",
    type=DictParamType(),
    default=json.dumps({"endpoint": "127.0.0.1:46357", "tls": {"insecure": True}}),
    show_default=True,
    help="The server config as JSON (endpoint host:port, no scheme).",
)
@click.option("--shared-secret", default="secret", show_default=True, help="Its identity's secret.")
def main(local, slim, shared_secret):
    """Runs a SLIM node from Python."""
    try:
        sys.exit(asyncio.run(run(local, slim, shared_secret)))
    except Exception as e:
        format_message_print(local, f"error: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
