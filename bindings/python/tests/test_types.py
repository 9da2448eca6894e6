"""Value classes of slim_bindings: constructors, defaults, keywords, equality, text forms.

Runs against the package laid out in the build tree (PYTHONPATH=<build>/bindings/python,
set by the ctest entry python.types).
"""

import asyncio
import datetime
import inspect

import pytest

import slim_bindings
from slim_bindings import (
    PyAlgorithm,
    PyIdentityProvider,
    PyIdentityVerifier,
    PyKey,
    PyKeyData,
    PyKeyFormat,
    PyName,
    PySessionConfiguration,
    PySessionType,
    SLIMTimeoutError,
)
from slim_bindings import _slim_bindings

ANY = 2**128 - 1


# ---- exports ----------------------------------------------------------------


def test_star_import_and_all_lists_only_existing_names():
    ns = {}
    exec("from slim_bindings import *", ns)
    for name in slim_bindings.__all__:
        assert hasattr(slim_bindings, name), name
        assert name in ns, name
    assert "get_default_session_config" not in slim_bindings.__all__
    assert "PyMessageContext" in slim_bindings.__all__  # exported, as upstream did later


def test_extension_reexports_value_classes():
    for name in (
        "PyName",
        "PySessionType",
        "PyAlgorithm",
        "PyKeyFormat",
        "PyKeyData",
        "PyKey",
        "PyIdentityProvider",
        "PyIdentityVerifier",
        "PySessionConfiguration",
    ):
        assert getattr(_slim_bindings, name) is getattr(slim_bindings, name), name
    assert isinstance(_slim_bindings.__version__, str)
    assert isinstance(_slim_bindings.build_profile, str)
    assert isinstance(_slim_bindings.build_info, str)


def test_every_public_class_and_function_has_a_docstring():
    for name in slim_bindings.__all__:
        obj = getattr(slim_bindings, name)
        assert obj.__doc__, name
    for m in ("components", "components_strings", "equal_without_id"):
        assert getattr(PyName, m).__doc__, m


# ---- PyName -----------------------------------------------------------------


def test_name_without_id():
    n = PyName("org", "ns", "svc")
    assert n.id == ANY
    assert n.components_strings() == ["org", "ns", "svc"]
    c = n.components()
    assert len(c) == 4 and c[3] == ANY
    assert all(isinstance(x, int) and 0 <= x < 2**64 for x in c[:3])
    assert str(n) == "org/ns/svc"
    assert repr(n) == "org/ns/svc"


def test_name_keywords_and_id():
    n = PyName(component0="org", component1="ns", component2="svc", id=42)
    assert n.id == 42
    assert n.components()[3] == 42
    assert str(n) == "org/ns/svc/00000000-0000-0000-0000-00000000002a"
    with pytest.raises(TypeError):
        PyName("org", "ns", "svc", instance=1)
    with pytest.raises(TypeError):
        PyName("org", "ns")
    with pytest.raises(TypeError):
        PyName("org", "ns", 3)


def test_name_128_bit_ids():
    big = (0x0123456789ABCDEF << 64) | 0xFEDCBA9876543210
    n = PyName("a", "b", "c", big)
    assert n.id == big
    assert str(n) == "a/b/c/01234567-89ab-cdef-fedc-ba9876543210"
    n.id = 2**64 + 1
    assert n.id == 2**64 + 1
    n.id = 0
    assert n.id == 0
    assert str(n) == "a/b/c/00000000-0000-0000-0000-000000000000"
    with pytest.raises(OverflowError):
        n.id = 2**128
    with pytest.raises(OverflowError):
        PyName("a", "b", "c", -1)
    with pytest.raises(TypeError):
        n.id = "5"
    with pytest.raises(TypeError):
        PyName("a", "b", "c", 1.5)
    assert n.id == 0  # failed sets leave the id alone
    n.id = ANY
    assert str(n) == "a/b/c"


def test_name_equality_and_hash():
    a = PyName("org", "ns", "svc", 7)
    b = PyName("org", "ns", "svc", 7)
    c = PyName("org", "ns", "svc", 8)
    d = PyName("org", "ns", "other", 7)
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert a != c and a != d
    assert a != "org/ns/svc/7"
    assert len({a, b, c, d}) == 3
    assert a.equal_without_id(c)
    assert a.equal_without_id(name=c)
    assert not a.equal_without_id(d)
    with pytest.raises(TypeError):
        a.equal_without_id("org/ns/svc")
    b.id = 9
    assert a != b and a.equal_without_id(b)


def test_name_hashes_are_libslim_component_hashes():
    # The numeric parts depend only on the text components.
    a = PyName("agntcy", "ns", "alice")
    b = PyName("agntcy", "ns", "bob")
    assert a.components()[:2] == b.components()[:2]
    assert a.components()[2] != b.components()[2]
    assert PyName("", "", "").components_strings() == ["", "", ""]


def test_name_unicode():
    n = PyName("örg", "ns", "svc✓")
    assert str(n) == "örg/ns/svc✓"
    assert n.components_strings() == ["örg", "ns", "svc✓"]


# ---- simple enums -------------------------------------------------------------


def test_session_type():
    assert PySessionType.ANYCAST == 0
    assert PySessionType.UNICAST == 1
    assert PySessionType.MULTICAST == 2
    assert PySessionType.UNICAST != PySessionType.MULTICAST
    assert str(PySessionType.MULTICAST) == "PySessionType.MULTICAST"


def test_algorithm_and_key_format():
    names = "HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA".split()
    assert [a.name for a in PyAlgorithm] == names
    assert PyAlgorithm.HS256 == 0 and PyAlgorithm.EdDSA == 11
    assert [f.name for f in PyKeyFormat] == ["Pem", "Jwk", "Jwks"]
    assert PyKeyFormat.Pem == PyKeyFormat.Pem
    assert PyKeyFormat.Pem != 0  # eq, but not with ints


# ---- keys and identities ------------------------------------------------------


def test_key_data():
    f = PyKeyData.File(path="/k.pem")
    c = PyKeyData.Content("-----BEGIN")
    assert isinstance(f, PyKeyData) and type(f) is PyKeyData.File
    assert f.path == "/k.pem" and c.content == "-----BEGIN"
    assert f == PyKeyData.File("/k.pem")
    assert f != PyKeyData.File("/other.pem")
    assert f != PyKeyData.Content("/k.pem")
    with pytest.raises(TypeError):
        PyKeyData.File(file="/k.pem")
    with pytest.raises(TypeError):
        PyKeyData()
    with pytest.raises(AttributeError):
        f.path = "/x"


def test_key():
    k = PyKey(algorithm=PyAlgorithm.ES256, format=PyKeyFormat.Pem, key=PyKeyData.File("/k"))
    assert k.algorithm == PyAlgorithm.ES256
    assert k.format == PyKeyFormat.Pem
    assert k.key == PyKeyData.File("/k")
    assert k == PyKey(PyAlgorithm.ES256, PyKeyFormat.Pem, PyKeyData.File("/k"))
    k.algorithm = PyAlgorithm.RS256
    k.format = PyKeyFormat.Jwk
    k.key = PyKeyData.Content("{}")
    assert (k.algorithm, k.format, k.key) == (
        PyAlgorithm.RS256,
        PyKeyFormat.Jwk,
        PyKeyData.Content("{}"),
    )
    with pytest.raises(TypeError):
        PyKey(PyAlgorithm.ES256, PyKeyFormat.Pem, "/k")
    with pytest.raises(TypeError):
        PyKey(alg=PyAlgorithm.ES256, format=PyKeyFormat.Pem, key=PyKeyData.File("/k"))


def _key():
    return PyKey(PyAlgorithm.ES256, PyKeyFormat.Pem, PyKeyData.File("/k.pem"))


def test_identity_provider():
    s = PyIdentityProvider.StaticJwt(path="/t.jwt")
    assert type(s) is PyIdentityProvider.StaticJwt and isinstance(s, PyIdentityProvider)
    assert s.path == "/t.jwt"

    j = PyIdentityProvider.Jwt(_key(), datetime.timedelta(hours=1))
    assert (j.private_key, j.duration) == (_key(), datetime.timedelta(hours=1))
    assert (j.issuer, j.audience, j.subject) == (None, None, None)
    j2 = PyIdentityProvider.Jwt(
        private_key=_key(),
        duration=datetime.timedelta(hours=1),
        issuer="iss",
        audience=["a", "b"],
        subject="sub",
    )
    assert (j2.issuer, j2.audience, j2.subject) == ("iss", ["a", "b"], "sub")
    assert j != j2
    assert j == PyIdentityProvider.Jwt(_key(), datetime.timedelta(hours=1))

    ss = PyIdentityProvider.SharedSecret(identity="alice", shared_secret="secret")
    assert (ss.identity, ss.shared_secret) == ("alice", "secret")
    assert ss == PyIdentityProvider.SharedSecret("alice", "secret")
    assert ss != PyIdentityVerifier.SharedSecret("alice", "secret")
    with pytest.raises(TypeError):
        PyIdentityProvider.SharedSecret(identity="alice", secret="secret")
    with pytest.raises(TypeError):
        PyIdentityProvider.Jwt(_key(), 3600)
    with pytest.raises(TypeError):
        PyIdentityProvider()


def test_identity_verifier():
    j = PyIdentityVerifier.Jwt()
    assert type(j) is PyIdentityVerifier.Jwt and isinstance(j, PyIdentityVerifier)
    assert j.public_key is None and j.autoresolve is False
    assert (j.issuer, j.audience, j.subject) == (None, None, None)
    assert (j.require_iss, j.require_aud, j.require_sub) == (False, False, False)
    j2 = PyIdentityVerifier.Jwt(
        public_key=_key(),
        autoresolve=True,
        issuer="iss",
        audience=["aud"],
        subject="sub",
        require_iss=True,
        require_aud=True,
        require_sub=True,
    )
    assert j2.public_key == _key() and j2.autoresolve is True
    assert (j2.require_iss, j2.require_aud, j2.require_sub) == (True, True, True)
    assert j != j2
    ss = PyIdentityVerifier.SharedSecret("bob", "secret")
    assert (ss.identity, ss.shared_secret) == ("bob", "secret")
    with pytest.raises(TypeError):
        PyIdentityVerifier.Jwt(require_exp=True)
    with pytest.raises(TypeError):
        PyIdentityVerifier.Jwt(autoresolve=1)


# ---- session configurations ---------------------------------------------------


def test_anycast():
    a = PySessionConfiguration.Anycast()
    assert type(a) is PySessionConfiguration.Anycast
    assert isinstance(a, PySessionConfiguration)
    assert (a.timeout, a.max_retries, a.mls_enabled) == (None, None, False)
    assert not hasattr(a, "metadata")
    b = PySessionConfiguration.Anycast(
        timeout=datetime.timedelta(seconds=2), max_retries=5, mls_enabled=True
    )
    assert (b.timeout, b.max_retries, b.mls_enabled) == (datetime.timedelta(seconds=2), 5, True)
    assert a == PySessionConfiguration.Anycast() and a != b
    with pytest.raises(TypeError):
        PySessionConfiguration.Anycast(metadata={})


def test_unicast():
    peer = PyName("org", "ns", "bob")
    u = PySessionConfiguration.Unicast(peer)
    assert type(u) is PySessionConfiguration.Unicast
    assert u.unicast_name == peer
    assert (u.timeout, u.max_retries, u.mls_enabled, u.metadata) == (None, None, False, {})
    u2 = PySessionConfiguration.Unicast(
        unicast_name=peer,
        timeout=datetime.timedelta(seconds=1),
        max_retries=3,
        mls_enabled=True,
        metadata={"k": "v"},
    )
    assert u2.metadata == {"k": "v"} and u2.max_retries == 3
    assert u != u2
    assert u != PySessionConfiguration.Unicast(PyName("org", "ns", "carol"))
    with pytest.raises(TypeError):
        PySessionConfiguration.Unicast("org/ns/bob")
    with pytest.raises(TypeError):
        PySessionConfiguration.Unicast(peer, metadata={"k": 1})


def test_multicast():
    ch = PyName("org", "ns", "chat")
    m = PySessionConfiguration.Multicast(ch)
    assert type(m) is PySessionConfiguration.Multicast
    assert isinstance(m, PySessionConfiguration)
    assert m.channel_name == ch
    assert m.max_retries == 0
    assert m.timeout == datetime.timedelta(milliseconds=1000)
    assert m.mls_enabled is False and m.metadata == {}
    # The seed's call.
    m2 = PySessionConfiguration.Multicast(
        channel_name=ch,
        max_retries=5,
        timeout=datetime.timedelta(seconds=5),
        mls_enabled=True,
    )
    assert (m2.max_retries, m2.timeout, m2.mls_enabled) == (
        5,
        datetime.timedelta(seconds=5),
        True,
    )
    assert m == PySessionConfiguration.Multicast(ch) and m != m2
    assert m != PySessionConfiguration.Unicast(ch)
    with pytest.raises(TypeError):
        PySessionConfiguration.Multicast(topic=ch)
    with pytest.raises(TypeError):
        PySessionConfiguration.Multicast(ch, timeout=None)
    with pytest.raises(OverflowError):
        PySessionConfiguration.Multicast(ch, max_retries=-1)
    with pytest.raises(OverflowError):
        PySessionConfiguration.Multicast(ch, max_retries=2**32)
    with pytest.raises(AttributeError):
        m.max_retries = 3
    with pytest.raises(TypeError):
        PySessionConfiguration()
    with pytest.raises(TypeError):
        hash(m)


def test_config_metadata_is_copied():
    meta = {"a": "1"}
    m = PySessionConfiguration.Multicast(PyName("o", "n", "c"), metadata=meta)
    meta["b"] = "2"
    assert m.metadata == {"a": "1"}
    # The shared default {} is never handed out.
    assert PySessionConfiguration.Multicast(PyName("o", "n", "c")).metadata == {}


def test_config_signatures():
    sig = inspect.signature(PySessionConfiguration.Multicast)
    assert list(sig.parameters) == [
        "channel_name",
        "max_retries",
        "timeout",
        "mls_enabled",
        "metadata",
    ]
    sig = inspect.signature(PySessionConfiguration.Unicast)
    assert list(sig.parameters) == [
        "unicast_name",
        "timeout",
        "max_retries",
        "mls_enabled",
        "metadata",
    ]


# ---- errors and version ---------------------------------------------------------


def test_slim_timeout_error():
    e = SLIMTimeoutError(3, 7)
    assert isinstance(e, asyncio.TimeoutError)
    assert (e.message_id, e.session_id, e.message, e.original_exception) == (
        3,
        7,
        "SLIM timeout error",
        None,
    )
    assert str(e) == "SLIM timeout error for session 7 and message 3"
    cause = ValueError("boom")
    e2 = SLIMTimeoutError(
        message_id=1, session_id=2, message="late", original_exception=cause
    )
    assert e2.original_exception is cause
    assert str(e2) == "late for session 2 and message 1. Caused by: ValueError('boom')"
    with pytest.raises(SLIMTimeoutError):
        raise e2


def test_version_functions():
    v = slim_bindings.get_version()
    assert isinstance(v, str) and v
    assert v == _slim_bindings.__version__
    p = slim_bindings.get_build_profile()
    assert isinstance(p, str) and p
    info = slim_bindings.get_build_info()
    lines = info.split("\n")
    assert [line.split("\t")[0] for line in lines] == [
        "Version:",
        "Build Date:",
        "Git SHA:",
        "Profile:",
    ]
    assert lines[0] == "Version:\t" + v
    assert lines[3] == "Profile:\t" + p


# ---- stubs ----------------------------------------------------------------------


def test_stub_lists_the_module_and_the_variants_fields():
    import ast
    import pathlib

    stub = pathlib.Path(_slim_bindings.__file__).with_name("_slim_bindings.pyi")
    tree = ast.parse(stub.read_text())
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            top[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            top[node.target.id] = node
    public = {n for n in dir(_slim_bindings) if not n.startswith("_")} | {"__version__"}
    assert set(top) == public
    for cls_name in ("PyKeyData", "PyIdentityProvider", "PyIdentityVerifier", "PySessionConfiguration"):
        enum_cls = getattr(_slim_bindings, cls_name)
        for variant in top[cls_name].body:
            if not isinstance(variant, ast.ClassDef):
                continue
            props = [
                f.name
                for f in variant.body
                if isinstance(f, ast.FunctionDef) and f.name != "__init__"
            ]
            init = next(f for f in variant.body if getattr(f, "name", "") == "__init__")
            params = [a.arg for a in init.args.args[1:]]
            real = getattr(enum_cls, variant.name)
            assert props == list(real._fields), (cls_name, variant.name)
            assert params == list(inspect.signature(real).parameters), (cls_name, variant.name)
