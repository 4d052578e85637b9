"""Bad input stops the preview with one line that names the problem."""

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
])
def test_bad_config_names_the_key(project, key, value, message):
    project.config(key, value)
    assert message in preview_error(project)


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


def test_event_triggers_need_a_superuser(project):
    user = "st_plain_" + project.stack[-8:]
    project.sql(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD 'pw'").format(sql.Identifier(user)))
    try:
        project.config("postgresql:username", user)
        project.config("postgresql:password", "pw", secret=True)
        assert "is not a superuser: the DDL tracker's event triggers need one" in preview_error(project)
        project.config("script-tracking:trackDdl", "false")
        assert f"is not a superuser: making {project.owner} the owner of the objects needs one" \
            in preview_error(project)
        # without an owner role, a login that may create (schemas here, the wrappers in public) installs
        project.config("script-tracking:ownerRole", "")
        database = project.sql("SELECT current_database()")[0][0]
        project.sql(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(database), sql.Identifier(user)))
        project.sql(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(user)))
        project.up()
        assert project.sql("SELECT DISTINCT proowner::regrole::text FROM pg_proc"
                           " WHERE pronamespace = 'script_tracking'::regnamespace") == [(user,)]
        project.run("destroy", "--yes")
    finally:
        project.run("destroy", "--yes", check=False)
        project.sql(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(user)))
        project.sql(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))
