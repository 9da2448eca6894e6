"""Builds slim_bindings as a Python package: `pip install ./bindings/python`.

The extension slim_bindings._slim_bindings (src/*.c, over libslim's public
headers in include/slim/) is linked with the static libslim.a, so the
installed package needs no libslim.so: only the system libraries libslim
uses (libuv, nghttp2, OpenSSL, protobuf-c, ...), found with pkg-config. libslim
stays internal to the extension (-Wl,--exclude-libs,ALL).

Where libslim.a comes from:

- by default, a CMake build of this checkout (the root is two directories up,
  so pip >= 21.3, which builds in tree, is needed): Release,
  -DSLIM_PYTHON_BINDINGS=OFF, only the slim_static target, in
  build/libslim-Release/ next to this file (ignored by git);
- when SLIM_BUILD_DIR names an existing CMake build of this checkout, that
  build's libslim.a (nothing is rebuilt there), and setuptools' own build
  products go to $SLIM_BUILD_DIR/bindings/python/pip-build/.

The package also installs the Python modules of the controller's protos
(proto/grpc_api, proto/controller, proto/controlplane), generated here with
protoc and grpc_python_plugin, so that programs written for SLIM's controller
can `from controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc` and
`from grpc_api import grpc_api_pb2` (they need grpcio and protobuf: Debian's
python3-grpcio and python3-protobuf).

The version is libslim's, from project(slim VERSION ...) in the top-level
CMakeLists.txt; the build facts of get_build_info() (date, git SHA, profile)
are set as bindings/python/CMakeLists.txt sets them.
"""

import datetime
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOP_CMAKE = os.path.join(ROOT, "CMakeLists.txt")


def fail(msg):
    sys.exit("slim_bindings setup.py: " + msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def slim_version():
    """libslim's version: project(slim VERSION x.y.z) of the top-level CMakeLists.txt."""
    try:
        m = re.search(r"project\(\s*slim\s+VERSION\s+([0-9][0-9.]*)", read(TOP_CMAKE))
    except OSError:
        m = None
    if not m:
        fail(
            "cannot find the SLIM checkout at %s (expected its CMakeLists.txt). Install "
            "from the checkout with pip >= 21.3, which builds in place: "
            "pip install --no-build-isolation ./bindings/python" % ROOT
        )
    return m.group(1)


def pkg_config_modules():
    """The pkg-config modules libslim links, as the CMake files list them.

    pkg_check_modules(<PREFIX> ... <module>) in CMakeLists.txt and in
    src/*/sources.cmake, plus libssl and libcrypto for find_package(OpenSSL).
    """
    keywords = {
        "REQUIRED",
        "QUIET",
        "IMPORTED_TARGET",
        "GLOBAL",
        "NO_CMAKE_PATH",
        "NO_CMAKE_ENVIRONMENT_PATH",
    }
    files = [TOP_CMAKE] + sorted(glob.glob(os.path.join(ROOT, "src", "*", "sources.cmake")))
    mods = []
    for path in files:
        text = re.sub(r"#[^\n]*", "", read(path))
        for args in re.findall(r"pkg_check_modules\s*\(([^)]*)\)", text):
            for tok in args.split()[1:]:
                if tok not in keywords:
                    mods.append(re.split(r"[<>=]", tok)[0])
        if re.search(r"find_package\s*\(\s*OpenSSL\b", text):
            mods += ["libssl", "libcrypto"]
    return list(dict.fromkeys(mods))


def pkg_config_libs(mods):
    pc = shutil.which("pkg-config")
    if not pc:
        fail("pkg-config not found (Debian: apt-get install pkg-config; see scripts/deps.sh)")
    r = subprocess.run([pc, "--libs"] + mods, stdout=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        fail("pkg-config --libs %s failed: are the -dev packages of scripts/deps.sh installed?"
             % " ".join(mods))
    return shlex.split(r.stdout)


def git_sha():
    """HEAD's commit, read from .git (as `git rev-parse HEAD`), or "unknown"."""
    git = os.path.join(ROOT, ".git")
    try:
        if os.path.isfile(git):  # a worktree or submodule: "gitdir: <path>"
            line = read(git).strip()
            if not line.startswith("gitdir:"):
                return "unknown"
            git = os.path.normpath(os.path.join(ROOT, line[len("gitdir:"):].strip()))
        common = git
        if os.path.isfile(os.path.join(git, "commondir")):
            common = os.path.normpath(os.path.join(git, read(os.path.join(git, "commondir")).strip()))
        head = read(os.path.join(git, "HEAD")).strip()
        if not head.startswith("ref:"):
            return head if re.fullmatch(r"[0-9a-f]{40}", head) else "unknown"
        ref = head[len("ref:"):].strip()
        for d in (git, common):
            p = os.path.join(d, ref)
            if os.path.isfile(p):
                return read(p).strip()
        packed = os.path.join(common, "packed-refs")
        if os.path.isfile(packed):
            for line in read(packed).splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    except OSError:
        pass
    return "unknown"


def build_date():
    """UTC, as CMake's string(TIMESTAMP ... UTC); SOURCE_DATE_EPOCH if set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def cmake_cache(build_dir):
    """The CMakeCache.txt entries of a build directory, as {name: value}."""
    entries = {}
    for line in read(os.path.join(build_dir, "CMakeCache.txt")).splitlines():
        m = re.match(r"([A-Za-z0-9_.+-]+):[A-Z_]+=(.*)$", line)
        if m:
            entries[m.group(1)] = m.group(2)
    return entries


def is_on(value):
    return value.upper() in ("1", "ON", "YES", "TRUE", "Y") or (
        value.isdigit() and int(value) != 0
    )


def existing_build():
    """$SLIM_BUILD_DIR, checked: a CMake build of this checkout, no sanitizers."""
    d = os.path.abspath(os.environ["SLIM_BUILD_DIR"])
    if not os.path.isfile(os.path.join(d, "CMakeCache.txt")):
        fail("SLIM_BUILD_DIR=%s is not a CMake build directory (no CMakeCache.txt)" % d)
    cache = cmake_cache(d)
    home = cache.get("CMAKE_HOME_DIRECTORY", "")
    if not home or os.path.realpath(home) != os.path.realpath(ROOT):
        fail("SLIM_BUILD_DIR=%s is a build of %r, not of %s" % (d, home, ROOT))
    for opt in ("SLIM_SANITIZE", "SLIM_TSAN", "SLIM_FUZZ"):
        if is_on(cache.get(opt, "OFF")):
            fail("SLIM_BUILD_DIR=%s is built with %s: its libslim.a needs the sanitizer "
                 "runtime, which Python does not load; use another build" % (d, opt))
    return d, cache.get("CMAKE_BUILD_TYPE") or "unknown"


class BuildExt(build_ext):
    """build_ext that first gets libslim.a (CMake build, or $SLIM_BUILD_DIR's)."""

    def run(self):
        if EXISTING:
            libdir, profile = EXISTING
        else:
            libdir, profile = self.build_libslim()
        lib = os.path.join(libdir, "libslim.a")
        if not os.path.isfile(lib):
            fail("%s is missing: build the slim_static target there first "
                 "(cmake --build %s --target slim_static)" % (lib, libdir))
        link = pkg_config_libs(pkg_config_modules())
        for ext in self.extensions:
            ext.extra_objects.append(lib)
            ext.define_macros.append(("SLIM_PY_PROFILE", '"%s"' % profile))
            # After libslim.a on the command line (setuptools puts
            # extra_link_args last), so --as-needed keeps only what it uses.
            ext.extra_link_args += ["-Wl,--exclude-libs,ALL", "-Wl,--as-needed"] + link
        # Always compile and link again: libslim.a and the build facts are not
        # among what setuptools compares dates of, and the sources are few.
        self.force = True
        super().run()
        for ext in self.extensions:
            self.check_loads(self.get_ext_fullpath(ext.name))

    def build_libslim(self):
        """Builds libslim.a with CMake under the build area; returns its directory."""
        cmake = shutil.which("cmake")
        if not cmake:
            fail("cmake not found (Debian: make deps, or see scripts/deps.sh)")
        build_base = self.get_finalized_command("build").build_base
        bdir = os.path.abspath(os.path.join(build_base, "libslim-Release"))
        configure = [
            cmake, "-S", ROOT, "-B", bdir,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DSLIM_PYTHON_BINDINGS=OFF",
        ]
        if not os.environ.get("CC") and shutil.which("gcc"):
            configure.append("-DCMAKE_C_COMPILER=gcc")
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 2)
        for cmd in (configure, [cmake, "--build", bdir, "--target", "slim_static", "-j", jobs]):
            print(" ".join(shlex.quote(c) for c in cmd), flush=True)
            if subprocess.call(cmd) != 0:
                fail("libslim's CMake build failed: " + " ".join(cmd))
        return bdir, "Release"

    def check_loads(self, path):
        """Fails the build, not the import, when a library is missing from the link."""
        code = "import ctypes, os, sys; ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)"
        if subprocess.call([sys.executable, "-c", code, path]) != 0:
            fail("%s does not load (undefined symbol?): a library libslim needs is not "
                 "in pkg_config_modules()" % path)


# $SLIM_BUILD_DIR, checked before anything is written: (its dir, its build type).
EXISTING = existing_build() if os.environ.get("SLIM_BUILD_DIR") else None

# setuptools' build products (and the egg-info) go under the build area, never
# beside the sources: build/ here (ignored by git), or under $SLIM_BUILD_DIR.
if EXISTING:
    BUILD_BASE = os.path.join(EXISTING[0], "bindings", "python", "pip-build")
else:
    BUILD_BASE = os.path.join(HERE, "build")
os.makedirs(BUILD_BASE, exist_ok=True)


# The controller's protos, as Python modules (namespace packages, as protoc
# lays them out), generated under the build area.
CONTROL_PROTOS = ["grpc_api/grpc_api.proto", "controller/v1/controller.proto",
                  "controlplane/v1/controlplane.proto"]
GEN_PY = os.path.join(BUILD_BASE, "gen-python")


def generate_protos():
    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        fail("protoc and grpc_python_plugin are needed (Debian: protobuf-compiler, "
             "protobuf-compiler-grpc; see scripts/deps.sh)")
    os.makedirs(GEN_PY, exist_ok=True)
    cmd = [protoc, "-I" + os.path.join(ROOT, "proto"), "--python_out=" + GEN_PY,
           "--grpc_out=" + GEN_PY, "--plugin=protoc-gen-grpc=" + plugin]
    cmd += [os.path.join(ROOT, "proto", p) for p in CONTROL_PROTOS]
    if subprocess.call(cmd) != 0:
        fail("protoc failed: " + " ".join(cmd))
    return sorted({os.path.dirname(p).replace("/", ".") for p in CONTROL_PROTOS} |
                  {p.split("/")[0] for p in CONTROL_PROTOS})


PROTO_PACKAGES = generate_protos()

os.chdir(HERE)  # setuptools wants the sources relative to setup.py

ext = Extension(
    "slim_bindings._slim_bindings",
    sources=sorted(glob.glob(os.path.join("src", "*.c"))),
    depends=sorted(glob.glob(os.path.join("src", "*.h"))),
    include_dirs=[os.path.join(ROOT, "include")],
    define_macros=[
        ("_GNU_SOURCE", None),
        ("SLIM_PY_BUILD_DATE", '"%s"' % build_date()),
        ("SLIM_PY_GIT_SHA", '"%s"' % git_sha()),
    ],
    # As CMake compiles them: C11, hidden symbols, warnings are errors.
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
)

setup(
    version=slim_version(),
    packages=["slim_bindings"] + PROTO_PACKAGES,
    package_dir={p: os.path.join(GEN_PY, *p.split(".")) for p in PROTO_PACKAGES},
    package_data={"slim_bindings": ["*.pyi"]},
    include_package_data=False,
    ext_modules=[ext],
    cmdclass={"build_ext": BuildExt},
    options={"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}},
)
