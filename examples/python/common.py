"""What the Python examples share: names, printing, identities, the command line.

The options are those of upstream's examples (``--local``, ``--remote``, ``--slim``,
``--shared-secret``, ``--jwt``, ``--spire-trust-bundle``, ``--audience``,
``--invites``, ``--enable-mls``); every option can also come from the environment
as ``SLIM_<OPTION>`` (``SLIM_SHARED_SECRET``, ...).
"""

from __future__ import annotations

import base64
import json
import sys

import click

import slim_bindings

DEFAULT_SLIM = {"endpoint": "http://127.0.0.1:46357", "tls": {"insecure": True}}


class color:
    """ANSI styles, used only when standard output is a terminal."""

    on = sys.stdout.isatty()
    CYAN = "\033[96m" if on else ""
    BOLD = "\033[1m" if on else ""
    END = "\033[0m" if on else ""


def format_message(message1: str, message2: str = "") -> str:
    """A line: the first part in a bold column, then the rest."""
    return f"{color.BOLD}{color.CYAN}{message1:<24}{color.END} {message2}"


def format_message_print(message1: str, message2: str = "") -> None:
    print(format_message(message1, message2), flush=True)


def split_id(id: str) -> slim_bindings.PyName:
    """'org/namespace/service' -> PyName('org', 'namespace', 'service')."""
    parts = id.split("/")
    if len(parts) != 3 or not all(parts):
        raise click.BadParameter(
            f"{id!r}: names are organization/namespace/service (three non-empty parts)"
        )
    return slim_bindings.PyName(*parts)


def shared_secret_identity(identity: str, secret: str):
    """Provider and verifier of a secret shared by every app (for demos)."""
    provider = slim_bindings.PyIdentityProvider.SharedSecret(
        identity=identity, shared_secret=secret
    )
    verifier = slim_bindings.PyIdentityVerifier.SharedSecret(
        identity=identity, shared_secret=secret
    )
    return provider, verifier


def jwt_identity(jwt_path: str, bundle_path: str, audience: list[str] | None = None):
    """A static token from a file (as SPIRE writes one), checked against the keys of
    a SPIRE trust bundle: a JSON object mapping trust domains to base64 JWKS."""
    with open(bundle_path) as f:
        bundle = json.load(f)
    keys = []
    for domain, jwks in bundle.items():
        try:
            keys.extend(json.loads(base64.b64decode(jwks))["keys"])
        except (ValueError, KeyError) as e:
            raise click.BadParameter(f"trust domain {domain!r}: not a base64 JWKS ({e})")
    public_key = slim_bindings.PyKey(
        algorithm=slim_bindings.PyAlgorithm.RS256,
        format=slim_bindings.PyKeyFormat.Jwks,
        key=slim_bindings.PyKeyData.Content(content=json.dumps({"keys": keys})),
    )
    provider = slim_bindings.PyIdentityProvider.StaticJwt(path=jwt_path)
    verifier = slim_bindings.PyIdentityVerifier.Jwt(
        public_key=public_key, audience=audience, require_aud=bool(audience)
    )
    return provider, verifier


class DictParamType(click.ParamType):
    """A JSON object on the command line."""

    name = "json"

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        try:
            out = json.loads(value)
        except json.JSONDecodeError as e:
            self.fail(f"{value!r} is not JSON: {e}", param, ctx)
        if not isinstance(out, dict):
            self.fail(f"{value!r} is not a JSON object", param, ctx)
        return out


def common_options(function):
    """The options every example takes (upstream's names)."""
    options = [
        click.option(
            "--local", required=True, help="This app's name: organization/namespace/service."
        ),
        click.option(
            "--remote", help="The peer or channel: organization/namespace/service-or-channel."
        ),
        click.option(
            "--slim",
            type=DictParamType(),
            default=json.dumps(DEFAULT_SLIM),
            show_default=True,
            help="How to reach the node: a client config as JSON.",
        ),
        click.option(
            "--shared-secret",
            default="secret",
            show_default=True,
            help="Secret shared by every app (demos only; use 32 characters or more).",
        ),
        click.option("--jwt", help="File holding this app's JWT (instead of a secret)."),
        click.option(
            "--spire-trust-bundle", help="SPIRE trust bundle with the keys that check JWTs."
        ),
        click.option("--audience", multiple=True, help="Audience the JWTs must name."),
        click.option(
            "--enable-opentelemetry",
            is_flag=True,
            help="Accepted for upstream's command lines; tracing export is not supported.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


async def create_local_app(
    local: str,
    slim: dict,
    shared_secret: str = "secret",
    jwt: str | None = None,
    spire_trust_bundle: str | None = None,
    audience: tuple[str, ...] | list[str] = (),
    connect: bool = True,
) -> slim_bindings.Slim:
    """Makes the app `local` with its identity and connects it to the node."""
    slim_bindings.init_tracing({"log_level": "warn"})
    name = split_id(local)
    if jwt and spire_trust_bundle:
        provider, verifier = jwt_identity(jwt, spire_trust_bundle, list(audience) or None)
    else:
        provider, verifier = shared_secret_identity(local, shared_secret)
    app = await slim_bindings.Slim.new(name, provider, verifier)
    format_message_print(local, f"created, full name {app.local_name}")
    if connect:
        await app.connect(slim)
        format_message_print(f"{local}", f"connected to {slim.get('endpoint')}")
    return app
