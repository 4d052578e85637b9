"""How the database is reached may change without touching what is in it: a new
address of the same database (127.0.0.1 -> localhost) is an update that re-creates
nothing, another database is a replacement; a rotated password (the old one
revoked, the new one in config) needs no other step for refresh, up and destroy."""

from __future__ import annotations

import uuid

from psycopg import sql

from tests.e2e.conftest import ours_in_catalog


def oids(project) -> list:
    return project.sql("SELECT oid FROM pg_proc WHERE proname IN ('track_operation', 'complete_operation') "
                       "UNION ALL SELECT oid FROM pg_event_trigger ORDER BY 1")


def test_a_new_address_of_the_same_database_recreates_nothing(project, new_db):
    project.up()
    before = oids(project)
    project.config("postgresql:host", "localhost")
    steps = project.preview_steps()
    changed = {s["urn"].split("::")[-1]: (s["op"], sorted(s.get("detailedDiff") or {})) for s in steps
               if s["op"] not in ("same", "refresh")}
    assert changed and all(v == ("update", ["connection"]) for v in changed.values()), changed
    project.up()
    assert oids(project) == before
    project.run("preview", "--expect-no-changes")

    project.config("postgresql:database", new_db())  # another database: the installation moves
    ops = {s["op"] for s in project.preview_steps()}
    assert "replace" in ops or {"create-replacement", "delete-replaced"} <= ops, ops


def test_a_rotated_password_needs_no_other_step(project):
    user = f"st_rotate_{uuid.uuid4().hex[:8]}"
    project.sql(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD 'first-pw-1'").format(sql.Identifier(user)))
    try:
        project.config("postgresql:username", user)
        project.config("postgresql:password", "first-pw-1", secret=True)
        project.up()
        project.sql(sql.SQL("ALTER ROLE {} PASSWORD 'second-pw-2'").format(sql.Identifier(user)))
        project.config("postgresql:password", "second-pw-2", secret=True)
        project.run("refresh", "--yes", "--run-program")
        project.sql("DROP EVENT TRIGGER auto_ddl_tracker")
        project.up("--refresh")  # repairs, and records the new password (no other change)
        assert ours_in_catalog(project)["event_triggers"] == 2
        project.run("preview", "--expect-no-changes", "--refresh")
        project.sql(sql.SQL("ALTER ROLE {} PASSWORD 'third-pw-3'").format(sql.Identifier(user)))
        project.config("postgresql:password", "third-pw-3", secret=True)
        project.run("destroy", "--yes", "--run-program")
        assert ours_in_catalog(project)["schemas"] == 0
    finally:
        project.run("destroy", "--yes", check=False)
        project.sql(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))
