"""A fleet in one stack, through the real CLI: 12 databases on two servers
(PostgreSQL 18 and Debian's PostgreSQL 15), configured under
script-tracking:servers, rolled out in parallel by one `up`; drift repaired in
one database only; a database removed from the list loses only its objects
while the server's shared roles stay; a server down fails only its databases,
each named, and a rerun converges; destroy leaves nothing of ours anywhere."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from psycopg import sql

from tests.conftest import _create_db, _drop_db
from tests.e2e.conftest import Project, install_program, new_project

SERVERS = {"main": 7, "legacy": 5}  # databases per server: main is PostgreSQL 18, legacy 15


def ours(dsn: str) -> tuple[int, int, int]:
    """(schemas, event triggers, functions) of ours in one database."""
    with psycopg.connect(dsn, autocommit=True) as c:
        return c.execute("""
            SELECT (SELECT count(*) FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')),
                   (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'auto_ddl_tracker%%'),
                   (SELECT count(*) FROM pg_proc WHERE proname IN ('track_operation', 'complete_operation',
                        'get_execution_history', 'log_audit_event'))""").fetchone()


def roles(cluster, names) -> set[str]:
    with psycopg.connect(cluster.dsn(), autocommit=True) as c:
        return {r for (r,) in c.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(names),))}


@pytest.fixture
def fleet(pg, pg15, tmp_path):
    clusters = {"main": pg, "legacy": pg15}
    tag = uuid.uuid4().hex[:6]
    dbs = {server: [_create_db(clusters[server], f"fleet_{tag}_{server}_{i}") for i in range(n)]
           for server, n in SERVERS.items()}
    work = tmp_path / "program"
    install_program(work)
    project = new_project(pg, dbs["main"][0], tmp_path, work)
    project.run("config", "rm", "postgresql:host")
    project.run("config", "rm", "postgresql:database")
    for server, cluster in clusters.items():
        key = f"script-tracking:servers.{server}"
        project.run("config", "set", "--path", f"{key}.host", "127.0.0.1")
        project.run("config", "set", "--path", f"{key}.port", str(cluster.port))
        project.run("config", "set", "--path", f"{key}.username", "postgres")
        project.run("config", "set", "--path", "--secret", f"{key}.password", cluster.password)
        for i, db in enumerate(dbs[server]):
            project.run("config", "set", "--path", f"{key}.databases[{i}]", db)
    yield project, clusters, dbs
    project.run("destroy", "--yes", "--continue-on-error", check=False)
    for server, cluster in clusters.items():
        cluster.start()
        for db in dbs[server]:
            _drop_db(cluster, db)
        with psycopg.connect(cluster.dsn(), autocommit=True) as c:
            for role in roles(cluster, (project.owner, project.writer, project.reader)):
                c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def updated_resources(project: Project, *extra: str) -> dict[str, list[str]]:
    """resource name -> the objects its preview changes (detailed diff), for every changing step."""
    r = project.run("preview", "--json", *extra)
    out = {}
    for s in json.loads(r.stdout).get("steps", []):
        if s["op"] in ("same", "refresh"):
            continue
        out[s["urn"].split("::")[-1]] = sorted(p for p in (s.get("detailedDiff") or {}))
    return out


def test_fleet_rollout(fleet):
    project, clusters, dbs = fleet
    every = [(server, db) for server in dbs for db in dbs[server]]
    assert len(every) == 12

    # one up installs all twelve, in parallel
    project.up("--parallel", "16")
    for server, db in every:
        assert ours(clusters[server].dsn(db)) == (2, 2, 6), (server, db)
    for cluster in clusters.values():
        assert roles(cluster, (project.owner, project.writer, project.reader)) == {project.owner, project.writer, project.reader}
    assert project.run("stack", "output", "databases", "--json").stdout.count("/") == 12
    project.run("preview", "--expect-no-changes")

    # a trigger dropped by hand in one database: reported and repaired there only
    server, db = "legacy", dbs["legacy"][2]
    with psycopg.connect(clusters[server].dsn(db), autocommit=True) as c:
        c.execute("DROP EVENT TRIGGER auto_ddl_tracker")
    assert updated_resources(project, "--refresh") == {f"{server}/{db}-objects": ['plan["auto_ddl_tracker"]']}
    project.up("--refresh")
    assert ours(clusters[server].dsn(db)) == (2, 2, 6)
    project.run("preview", "--expect-no-changes", "--refresh")

    # one database leaves the list: only its objects go, the server's roles stay
    gone = dbs["main"].pop()
    project.run("config", "rm", "--path", f"script-tracking:servers.main.databases[{len(dbs['main'])}]")
    changes = updated_resources(project)
    assert set(changes) == {f"main/{gone}", f"main/{gone}-objects", f"main/{gone}-owner", f"main/{gone}-writer",
                            f"main/{gone}-reader"}
    project.up()
    assert ours(clusters["main"].dsn(gone)) == (0, 0, 0)
    assert roles(clusters["main"], (project.owner, project.writer, project.reader)) == {project.owner, project.writer, project.reader}
    for db in dbs["main"]:
        assert ours(clusters["main"].dsn(db)) == (2, 2, 6)
        with psycopg.connect(clusters["main"].dsn(db), autocommit=True) as c:
            c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(project.writer)))
            c.execute("SELECT track_operation('still granted', 'ADHOC')")

    # a server down: a change fails only its databases, each named; a rerun converges
    project.config("script-tracking:trackDdl", "false")
    clusters["legacy"].stop()
    r = project.run("up", "--yes", "--skip-preview", "--continue-on-error", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in out
    for db in dbs["legacy"]:
        assert f"legacy/{db}-objects" in out and f"{clusters['legacy'].port}/{db}" in out, db
    for db in dbs["main"]:
        assert f"main/{db}-objects" not in [line.split()[-1] for line in out.splitlines() if "failed" in line]
        assert ours(clusters["main"].dsn(db)) == (2, 0, 6), db  # done where the server is up
    clusters["legacy"].start()
    project.up()
    for db in dbs["legacy"]:
        assert ours(clusters["legacy"].dsn(db)) == (2, 0, 6), db
    project.run("preview", "--expect-no-changes")

    # destroy: nothing of ours in any database, no role of ours on either server
    project.run("destroy", "--yes")
    for server, db in every:
        assert ours(clusters[server].dsn(db)) == (0, 0, 0), (server, db)
    for cluster in clusters.values():
        assert roles(cluster, (project.owner, project.writer, project.reader)) == set()
