"""The server dies in the middle of `up`, at a different moment each time: every
run ends in readable lines only (no Python traceback), and one rerun after the
restart converges (transient failures are retried with a bounded backoff), with
the seed's validation SQL passing."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import _create_db, throwaway_cluster
from tests.e2e.conftest import install_program, new_project, ours_in_catalog
from tests.e2e.test_lifecycle import run_seed_validation

RUNS = 20


@pytest.fixture
def crashable():
    """A server of this test only: it is killed again and again. Durable, as a real
    one is: what it acknowledged as committed survives the crash."""
    with throwaway_cluster("st-crash-", durable=True) as cluster:
        yield cluster


def test_the_server_killed_at_any_moment_of_up(crashable, tmp_path):
    work = tmp_path / "program"
    install_program(work)
    db = _create_db(crashable)
    project = new_project(crashable, db, tmp_path, work)
    failed_runs = 0
    for i in range(RUNS):
        delay = 0.3 + i * 0.1  # from before the program connects to after the last resource
        up = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--stack", project.stack],
                              cwd=project.dir, env=project.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        time.sleep(delay)
        crashable.crash()
        out, _ = up.communicate(timeout=300)
        assert "Traceback" not in out, f"run {i} (server killed after {delay:.1f} s):\n{out}"
        errors = [line for line in out.splitlines() if "error:" in line]
        failed_runs += up.returncode != 0
        assert all(len(line) < 600 for line in errors), errors
        crashable.start()
        project.up()  # converges
        run_seed_validation(project)
        assert ours_in_catalog(project)["event_triggers"] == 2
        project.run("preview", "--expect-no-changes")
        project.run("destroy", "--yes")
        assert ours_in_catalog(project)["schemas"] == 0
    assert failed_runs > 0, "the server was never killed while up still needed it"
