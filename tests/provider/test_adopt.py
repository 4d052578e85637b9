"""An installation made by hand with psql is adopted by the first apply: every
object is found in the catalog and brought to the desired state, nothing fails
with "already exists", and tracked history is kept."""

import psycopg

from tests.conftest import SQL_DIR

from .support import Stack


def test_psql_install_is_adopted_with_its_history(pg, db, stack: Stack):
    pg.psql(db, file=SQL_DIR / "install.sql")
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        hk = c.execute("SELECT track_operation('before adoption', 'DEPLOYMENT')").fetchone()[0]
        c.execute("SELECT complete_operation(%s, true, NULL)", (hk,))
        before = c.execute("SELECT script_execution_hk, version_number, status "
                           "FROM script_tracking.script_execution_s").fetchall()

    stack.install()  # create() of every object, each finding it already there

    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        after = c.execute("SELECT script_execution_hk, version_number, status "
                          "FROM script_tracking.script_execution_s").fetchall()
        assert set(before) <= set(after)
        assert c.execute("SELECT status FROM script_tracking.get_execution_history("
                         "p_script_name => 'before adoption')").fetchone()[0] == "COMPLETED"
    for obj in stack.objects:  # and the state now matches the catalog: no drift
        assert stack.read(obj).outs["fingerprint"] == stack.outs[(obj.kind, obj.identity)]["applied"]


def test_an_earlier_releases_install_is_adopted_without_its_retired_constraint(pg, db, stack: Stack):
    """Release 0.2 checked hk = sha256(bk) on the hub; the random keys of this one cannot
    pass it, so adoption drops the constraint sql/ no longer declares."""
    pg.psql(db, file=SQL_DIR / "install.sql")
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("ALTER TABLE script_tracking.script_execution_h ADD CONSTRAINT script_execution_h_hk_ck"
                  " CHECK (script_execution_hk = sha256(convert_to(script_execution_bk, 'UTF8')))")
    stack.install()
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'script_execution_h_hk_ck'"
                         ).fetchone()[0] == 0
        c.execute("SELECT track_operation('after adoption', 'ADHOC')")
        c.execute("CREATE TABLE public.tracked_after_adoption (id int)")
        assert c.execute("SELECT count(*) FROM script_tracking.ddl_history"
                         " WHERE object_identity = 'public.tracked_after_adoption'").fetchone()[0] == 1
    for obj in stack.objects:
        assert stack.read(obj).outs["fingerprint"] == stack.outs[(obj.kind, obj.identity)]["applied"]
