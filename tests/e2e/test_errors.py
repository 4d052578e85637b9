"""Bad input stops the preview with one line that names the problem."""

import shutil
from contextlib import contextmanager
from typing import Iterator

import psycopg
import pytest
from psycopg import sql


def preview_error(project) -> str:
    r = project.run("preview", check=False)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "Traceback" not in out
    return out


@pytest.mark.parametrize("key,value,message", [
    ("postgresql:port", "not-a-port", "configuration postgresql:port: 'not-a-port' is not a whole number"),
    ("postgresql:sslmode", "sometimes", "configuration postgresql:sslmode: 'sometimes' is not one of"),
    ("script-tracking:trackDdl", "maybe", "configuration script-tracking:trackDdl: 'maybe' is not true or false"),
    ("script-tracking:writerRole", "Robert'); DROP", "configuration script-tracking:writerRole:"),
    ("script-tracking:ddlExcludeTags", '["create table"]', "configuration script-tracking:ddlExcludeTags:"),
    ("script-tracking:ownerRole", "Owner!", "configuration script-tracking:ownerRole: 'Owner!' is not a valid role"),
    ("script-tracking:maxDetailsBytes", "lots", "configuration script-tracking:maxDetailsBytes: 'lots' is not a whole"),
    ("script-tracking:maxScriptNameChars", "300",
     "configuration script-tracking:maxScriptNameChars: 300 is not a whole number in 1..255"),
    # a misspelt key is not ignored
    ("script-tracking:retentiondays", "30",
     "configuration script-tracking:retentiondays: unknown key (did you mean script-tracking:retentionDays?)"),
    # ... under pulumi-postgresql's keys too (the install would go to database postgres)
    ("postgresql:databse", "app", "configuration postgresql:databse: unknown key (did you mean postgresql:database?)"),
    ("script-tracking:ddlExcludeSchemas", "pg_temp",
     "configuration script-tracking:ddlExcludeSchemas: must be a JSON list of strings"),
    # of the right shape, but a tag the server does not know: the filter would match nothing
    ("script-tracking:ddlIncludeTags", '["CREATE TABEL"]',
     'ddlIncludeTags: SQLSTATE 42601: filter value "CREATE TABEL" not recognized for filter variable "tag"'),
])
def test_bad_config_names_the_key(project, key, value, message):
    project.config(key, value)
    assert message in preview_error(project)


def test_a_pulumi_postgresql_key_the_program_does_not_read_is_a_warning(project):
    """Not refused (a stack may share pulumi-postgresql's config), but not silently ignored."""
    project.config("postgresql:sslrootcert", "/etc/ssl/root.crt")
    r = project.run("preview")
    assert "configuration postgresql:sslrootcert: not read by this program (it connects with postgresql:host, " \
        "postgresql:port, postgresql:database, postgresql:username, postgresql:password, postgresql:sslmode)" \
        in r.stdout + r.stderr


def test_sql_dir_without_the_systems_files(project, tmp_path):
    (tmp_path / "empty").mkdir()
    project.config("script-tracking:sqlDir", str(tmp_path / "empty"))
    out = preview_error(project)
    assert f"configuration script-tracking:sqlDir: No such file or directory: {tmp_path / 'empty'}/" in out
    broken = tmp_path / "broken"
    shutil.copytree(project.dir / "sql", broken)
    (broken / "20_tracking.sql").write_text((broken / "20_tracking.sql").read_text() + "\nCREATE TABLE x (;\n")
    project.config("script-tracking:sqlDir", str(broken))
    out = preview_error(project)
    assert f"configuration script-tracking:sqlDir: {broken}: 20_tracking.sql: syntax error" in out


def test_fleet_password_in_plaintext_next_to_a_secret_one_is_refused(project, pg):
    """The engine marks the whole servers object secret once one password in it is; the
    plaintext one is still refused, by its path."""
    project.run("config", "rm", "postgresql:host")
    project.run("config", "rm", "postgresql:database")
    for server, secret in (("a", False), ("b", True)):
        key = f"script-tracking:servers.{server}"
        project.run("config", "set", "--path", f"{key}.port", str(pg.port))
        project.run("config", "set", "--path", f"{key}.databases[0]", "postgres")
        project.run("config", "set", "--path", "--secret" if secret else "--plaintext", f"{key}.password", "pw")
    assert "configuration script-tracking:servers.a.password: must be set as a secret" in preview_error(project)


@pytest.mark.parametrize("key,value,message", [
    ("hots", "db.example", "servers.main.hots: unknown key (did you mean host?)"),
    # a port of 0 is refused, not taken for unset (5432)
    ("port", "0", "servers.main.port: 0 is outside 1..65535"),
])
def test_fleet_server_values_name_their_path(project, key, value, message):
    project.run("config", "rm", "postgresql:host")
    project.run("config", "rm", "postgresql:database")
    project.run("config", "set", "--path", "script-tracking:servers.main.databases[0]", "postgres")
    project.run("config", "set", "--path", f"script-tracking:servers.main.{key}", value)
    assert f"configuration script-tracking:{message}" in preview_error(project)


def test_plaintext_password_is_refused(project):
    project.config("postgresql:password", "plain")
    assert "configuration postgresql:password: must be set as a secret" in preview_error(project)


def test_wrong_password(project):
    project.config("postgresql:password", "wrong-password", secret=True)
    out = preview_error(project)
    assert "cannot connect to PostgreSQL as postgres@127.0.0.1" in out
    assert "password authentication failed" in out


def test_unreachable_server(project):
    project.config("postgresql:port", "1")
    assert "cannot connect to PostgreSQL as postgres@127.0.0.1:1" in preview_error(project)
    # raised, not a check failure, when up runs without a preview: the message alone
    r = project.run("up", "--yes", "--skip-preview", check=False)
    errors = [line.strip() for line in (r.stdout + r.stderr).splitlines() if "error: " in line]
    assert r.returncode != 0 and any("error: cannot connect to PostgreSQL as postgres@127.0.0.1:1" in line
                                     for line in errors), errors
    assert not any("script_tracking." in line or "Traceback" in line for line in errors), errors


def test_a_read_only_database_stops_the_preview(project):
    """An installed stack, unchanged: the roles' preview failed with a bare SQLSTATE 25006
    (and, in a provider whose render of the objects was cached, the preview passed and `up`
    failed)."""
    project.up()
    db = project.sql("SELECT current_database()")[0][0]
    project.sql(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(db)))
    try:
        assert f"/{db}: database {db} is read-only for postgres " \
               "(default_transaction_read_only is on): nothing can be installed there" in preview_error(project)
    finally:
        with psycopg.connect(project.dsn, autocommit=True, options="-c default_transaction_read_only=off") as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} RESET ALL").format(sql.Identifier(db)))
    project.run("preview", "--expect-no-changes")


@contextmanager
def login(project, prefix: str, attributes: str) -> Iterator[str]:
    """The stack connects as a new login of these attributes; dropped afterwards."""
    user = prefix + project.stack[-8:]
    project.sql(sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD 'pw'").format(sql.Identifier(user), sql.SQL(attributes)))
    try:
        project.config("postgresql:username", user)
        project.config("postgresql:password", "pw", secret=True)
        yield user
    finally:
        project.run("destroy", "--yes", check=False)
        project.sql(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(user)))
        project.sql(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))


def test_event_triggers_need_a_superuser(project):
    with login(project, "st_plain_", "CREATEROLE") as user:
        assert "is not a superuser: the DDL tracker's event triggers need one" in preview_error(project)
        project.config("script-tracking:trackDdl", "false")
        assert f"is not a superuser: making {project.owner} the owner of the objects needs one" \
            in preview_error(project)
        # without an owner role, a login that may create (schemas here, the wrappers in public) installs
        project.config("script-tracking:ownerRole", "")
        database = project.sql("SELECT current_database()")[0][0]
        project.sql(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(database), sql.Identifier(user)))
        # the wrappers' schema: refused by the preview, not half-way through up
        project.sql(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(sql.Identifier(user)))
        assert f"{user} may not create in schema public" in preview_error(project)
        project.sql(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(user)))
        project.up()
        assert project.sql("SELECT DISTINCT proowner::regrole::text FROM pg_proc"
                           " WHERE pronamespace = 'script_tracking'::regnamespace") == [(user,)]
        project.run("destroy", "--yes")


def test_a_login_that_may_not_create_roles_is_told_so(project):
    with login(project, "st_norole_", ""):
        assert "permission denied to create role" in (out := preview_error(project))
        assert "the login needs CREATEROLE" in out and "needs CREATE on the database" not in out


def test_a_refused_plan_is_one_short_line(project):
    """A plan the provider refuses (drift it would have to undo by dropping data) is reported
    as its reason alone: not after the engine's print of the objects (about 100 KB of SQL)."""
    project.up()
    project.sql("SELECT track_operation('noted', 'ADHOC')")
    project.sql("ALTER TABLE script_tracking.script_execution_h ADD COLUMN my_note text DEFAULT 'kept'")
    out = preview_error(project)
    errors = [line for line in out.splitlines() if "error:" in line]
    assert any("refusing to drop column script_tracking.script_execution_h.my_note: it holds data" in line
               for line in errors), out
    assert "property" not in out and max(map(len, errors)) < 600, out
