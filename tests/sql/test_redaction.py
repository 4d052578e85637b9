"""No secret reaches a readable record through the DDL tracker (issue 11).

Every query string of the corpus is sent as ONE simple-protocol query (as psql -c,
psycopg without parameters or a migration tool sending a whole file do) through the
real event triggers. Then no secret may appear in any column of any table or view
of the schemas script_tracking and util, and the DDL must still be tracked.
"""

from __future__ import annotations

import random
import uuid

import psycopg
import pytest
from psycopg import sql

from tests.conftest import SQL_DIR, _create_db, _drop_db
from tests.sql.conftest import Notices, max_execution_id

FN = "script_tracking.ddl_statement_text"
RED = "'<redacted>'"

# setups: {fdw} a wrapper without handler (enough for servers, user mappings and foreign
# tables as a superuser), {srv} a server of it with a user mapping for postgres
FDW = "CREATE FOREIGN DATA WRAPPER {fdw}"
SRV = [FDW, "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (host 'h1')",
       "CREATE USER MAPPING FOR postgres SERVER {srv} OPTIONS (user 'u1')"]

# (id, setup statements, the query string, secrets (each must appear in no record),
#  command tags that must be tracked by this query string)
CORPUS = [
    # -- foreign servers and user mappings (PostgreSQL hides user mapping options from
    #    non-owners in pg_user_mappings)
    ("server-options", [FDW],
     "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (host 'h', user 'zqsvruser', password 'zqsvrpw')",
     ["zqsvrpw", "zqsvruser"], ["CREATE SERVER"]),
    ("alter-server-options", SRV,
     "ALTER SERVER {srv} OPTIONS (SET host 'zqhost', ADD password 'zqaltsrvpw')",
     ["zqaltsrvpw", "zqhost"], ["ALTER SERVER"]),
    ("user-mapping", SRV[:2],
     "CREATE USER MAPPING FOR postgres SERVER {srv} OPTIONS (user 'zqumuser', password 'zqumpw')",
     ["zqumpw", "zqumuser"], ["CREATE USER MAPPING"]),
    ("user-mapping-quoted-options-estring", SRV[:2],
     "CREATE USER MAPPING FOR CURRENT_USER SERVER {srv} OPTIONS (\"user\" 'u', \"password\" E'zqumepw\\x41\\'x')",
     ["zqumepw"], ["CREATE USER MAPPING"]),
    ("alter-user-mapping-set", SRV,
     "ALTER USER MAPPING FOR postgres SERVER {srv} OPTIONS (ADD password 'zqaumpw')",
     ["zqaumpw"], ["ALTER USER MAPPING"]),
    ("alter-user-mapping-add-drop", SRV,
     "ALTER USER MAPPING FOR postgres SERVER {srv} OPTIONS (SET user 'zqaumuser', ADD sslpassword $$zqaumssl$$)",
     ["zqaumuser", "zqaumssl"], ["ALTER USER MAPPING"]),
    ("fdw-options", [FDW],
     "ALTER FOREIGN DATA WRAPPER {fdw} OPTIONS (ADD secret 'zqfdwsecret')",
     ["zqfdwsecret"], ["ALTER FOREIGN DATA WRAPPER"]),
    ("foreign-table-options", SRV,
     "CREATE FOREIGN TABLE ft_{id} (a int) SERVER {srv} OPTIONS (password 'zqftpw')",
     ["zqftpw"], ["CREATE FOREIGN TABLE"]),
    ("server-and-mapping-in-one-string", [FDW],
     "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw}; CREATE USER MAPPING FOR postgres SERVER {srv} "
     "OPTIONS (password 'zqtwopw')",
     ["zqtwopw"], ["CREATE SERVER", "CREATE USER MAPPING"]),
    # -- subscriptions (pg_subscription.subconninfo is not readable by PUBLIC); connect =
    #    false: no publisher needed, and no wal_level change (that is the publisher's)
    ("subscription-connection", [],
     "CREATE SUBSCRIPTION sub_{id} CONNECTION 'host=127.0.0.1 port=1 dbname=x user=zqsubuser password=zqsubpw' "
     "PUBLICATION p WITH (connect = false)",
     ["zqsubpw", "zqsubuser"], ["CREATE SUBSCRIPTION"]),
    ("alter-subscription-connection",
     ["CREATE SUBSCRIPTION sub_{id} CONNECTION 'dbname=x' PUBLICATION p WITH (connect = false)"],
     "ALTER SUBSCRIPTION sub_{id} CONNECTION 'host=127.0.0.1 port=1 dbname=x password=zqasubpw'",
     ["zqasubpw"], ["ALTER SUBSCRIPTION"]),
    # -- roles: not tracked themselves (shared objects fire no event trigger), but the whole
    #    query string used to be stored with the tracked statement next to them
    ("create-table-then-alter-role", [],
     "CREATE TABLE t_{id} (id int); ALTER ROLE {role} PASSWORD 'zqrolepw1'",
     ["zqrolepw1"], ["CREATE TABLE"]),
    ("alter-role-encrypted-then-create", [],
     "ALTER ROLE {role} WITH LOGIN ENCRYPTED PASSWORD 'zqrolepw2';\nCREATE TABLE t_{id} (id int);",
     ["zqrolepw2"], ["CREATE TABLE"]),
    ("create-role-dollar-password", [],
     "CREATE ROLE {role2} LOGIN PASSWORD $$zqrolepw3$$; CREATE SEQUENCE s_{id}",
     ["zqrolepw3"], ["CREATE SEQUENCE"]),
    ("create-user-tagged-dollar", [],
     "CREATE USER {role2} PASSWORD $pw$zqrolepw4$pw$ VALID UNTIL 'infinity'; "
     "CREATE VIEW v_{id} AS SELECT 1 AS one",
     ["zqrolepw4"], ["CREATE VIEW"]),
    ("alter-user-unicode-escape", [],
     "ALTER USER {role} PASSWORD U&'zqrolepw5\\0041!0042' UESCAPE '!'; CREATE SCHEMA sch_{id}",
     ["zqrolepw5"], ["CREATE SCHEMA"]),
    ("alter-role-estring-escaped-quote", [],
     "ALTER ROLE {role} PASSWORD E'zqrolepw6\\'; CREATE TABLE x (a int)'; CREATE TABLE t_{id} ()",
     ["zqrolepw6"], ["CREATE TABLE"]),
    ("alter-role-estring", [],
     "CREATE TABLE t_{id} (id int); ALTER ROLE {role} PASSWORD E'zqrolepw7\\'; --'",
     ["zqrolepw7"], ["CREATE TABLE"]),
    ("same-statement-kind", [],
     "CREATE TABLE t_{id} (id int); ALTER ROLE {role} PASSWORD 'zqrolepw8'; CREATE TABLE t2_{id} (id int)",
     ["zqrolepw8"], ["CREATE TABLE", "CREATE TABLE"]),
    ("password-null-and-literal", [],
     "ALTER ROLE {role} PASSWORD NULL; COMMENT ON SCHEMA public IS 'x'; ALTER ROLE {role} PASSWORD 'zqrolepw9'",
     ["zqrolepw9"], ["COMMENT"]),
    # -- DDL run from a DO block: the statement is the whole query string, redacted
    ("do-block-execute", [],
     "DO $$ BEGIN CREATE TABLE t_{id} (x int); EXECUTE 'ALTER ROLE {role} PASSWORD ''zqdopw1'''; END $$",
     ["zqdopw1"], ["CREATE TABLE"]),
    ("do-block-direct", [],
     "DO $do$BEGIN\n  ALTER ROLE {role} PASSWORD 'zqdopw2';\n  CREATE TABLE t_{id} ();\nEND$do$",
     ["zqdopw2"], ["CREATE TABLE"]),
    ("do-block-then-ddl", [],
     "DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', '{role}', 'zqdopw3'); END $$; "
     "CREATE TABLE t_{id} ()",
     ["zqdopw3"], ["CREATE TABLE"]),
    # -- comments and literals holding secrets in a tracked statement itself
    ("block-comment", [],
     "CREATE TABLE t_{id} (id int) /* the password is zqcmtpw1 */",
     ["zqcmtpw1"], ["CREATE TABLE"]),
    ("line-comment", [],
     "-- password: zqcmtpw2\nCREATE TABLE t_{id} (id int)",
     ["zqcmtpw2"], ["CREATE TABLE"]),
    ("nested-comment", [],
     "CREATE TABLE t_{id} (id int) /* outer /* secret zqcmtpw3 */ still a comment: zqcmtpw4 */",
     ["zqcmtpw3", "zqcmtpw4"], ["CREATE TABLE"]),
    ("comment-then-role-in-string", [],
     "CREATE TABLE t_{id} (id int); -- zqcmtpw5 is the new one\nALTER ROLE {role} PASSWORD 'zqcmtpw6'",
     ["zqcmtpw5", "zqcmtpw6"], ["CREATE TABLE"]),
    ("comment-on-with-password", [],
     "COMMENT ON SCHEMA public IS 'admin password: zqcomment'",
     ["zqcomment"], ["COMMENT"]),
    ("function-body-conninfo", [],
     "CREATE FUNCTION f_{id}() RETURNS text LANGUAGE sql AS $f$ SELECT 'host=db password=zqfnpw1'::text $f$",
     ["zqfnpw1"], ["CREATE FUNCTION"]),
    ("function-named-token", [],
     "CREATE OR REPLACE FUNCTION api_token_{id}() RETURNS text LANGUAGE sql AS $$ SELECT 'zqfntok'::text $$;",
     ["zqfntok"], ["CREATE FUNCTION"]),
    ("function-sql-standard-body", [],
     "CREATE FUNCTION f_{id}() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT 'password=zqfnpw2'; END; "
     "ALTER ROLE {role} PASSWORD 'zqfnpw3'",
     ["zqfnpw2", "zqfnpw3"], ["CREATE FUNCTION"]),
    ("estring-continued", [FDW],
     "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (password E'zqcont1\\''\n'zqcont2\\'')",
     ["zqcont1", "zqcont2"], ["CREATE SERVER"]),
    # -- a string literal goes on across whitespace holding a newline (\n or a lone \r), in which
    #    `--` comments count as whitespace; the parts continuing an E'...' have backslash escapes
    ("estring-continued-across-comment", [FDW],
     "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (password E'a' --c\n'\\'zqleak1', host 'h', port '1')"
     " -- it's done",
     ["zqleak1"], ["CREATE SERVER"]),
    ("estring-continued-lone-cr", [FDW],
     "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (password E'a'\r'\\'zqleak2', host 'h', port '1')"
     " -- it's done",
     ["zqleak2"], ["CREATE SERVER"]),
    ("estring-continued-crlf-comment-line", SRV[:2],
     "CREATE USER MAPPING FOR postgres SERVER {srv} OPTIONS (password E'a'\r\n-- the rest:\r\n'\\'zqleak3',"
     " user 'u') -- it's done",
     ["zqleak3"], ["CREATE USER MAPPING"]),
    ("estring-continued-hides-a-statement", [],
     "ALTER ROLE {role} PASSWORD E'x' --c\n'\\'; CREATE TABLE zqleak4 (a int); '; CREATE TABLE t_{id} () -- it's",
     ["zqleak4"], ["CREATE TABLE"]),
    # a secret holding a quote, a backslash and a non-ASCII character (JSON escapes the first two)
    ("estring-continued-quote-backslash-non-ascii", SRV[:2],
     "CREATE USER MAPPING FOR postgres SERVER {srv} OPTIONS (password E'a' --c\n'\\'zq\"q\"\\\\b\u20ac5', user 'u')"
     " -- it's done",
     ['zq"q"\\\\b\u20ac5'], ["CREATE USER MAPPING"]),
]


def _names() -> dict[str, str]:
    u = uuid.uuid4().hex[:10]
    return {"id": u, "fdw": f"w_{u}", "srv": f"srv_{u}", "role": f"r_{u}", "role2": f"r2_{u}"}


def _secret_hits(conn: psycopg.Connection, secrets: list[str]) -> list[str]:
    """(relation, secret) of every table/view of ours holding a secret in any column.

    Each row is searched as JSON (to_jsonb): every string value and key at any depth, taken
    unescaped (#>> '{}'), so that a secret holding a quote, a backslash or a control
    character is found in a jsonb column too (the row's text form escapes those twice);
    and as the row's text form, for values JSON shows otherwise."""
    rels = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('script_tracking', 'util') AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1, 2"
    ).fetchall()
    assert ("script_tracking", "ddl_history") in rels and ("util", "audit_log") in rels
    hits = []
    for schema, rel in rels:
        for s in secrets:
            q = sql.SQL(
                "SELECT count(*) FROM {} x"
                " WHERE strpos(lower(x::text), %(s)s) > 0"
                "    OR EXISTS (SELECT FROM jsonb_path_query(to_jsonb(x), 'strict $.**') v"
                "               LEFT JOIN LATERAL jsonb_object_keys(CASE jsonb_typeof(v) WHEN 'object' THEN v END) k"
                "                      ON true"
                "               WHERE strpos(lower(CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{{}}' END), %(s)s) > 0"
                "                  OR strpos(lower(k), %(s)s) > 0)").format(sql.Identifier(schema, rel))
            if conn.execute(q, {"s": s.lower()}).fetchone()[0]:
                hits.append(f"{schema}.{rel}: {s}")
    return hits


def _cleanup(conn: psycopg.Connection, names: dict[str, str]) -> None:
    for (sub,) in conn.execute("SELECT subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid"
                               " WHERE d.datname = current_database()").fetchall():
        for stmt in ("ALTER SUBSCRIPTION {} DISABLE", "ALTER SUBSCRIPTION {} SET (slot_name = NONE)",
                     "DROP SUBSCRIPTION {}"):
            conn.execute(sql.SQL(stmt).format(sql.Identifier(sub)))
    for r in (names["role"], names["role2"]):
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)))


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_no_secret_in_any_record(installed_db, connect, case):
    _, setup, query, secrets, tags = case
    assert len(CORPUS) >= 20
    n = _names()
    conn = connect(installed_db)
    notes = Notices(conn)
    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(n["role"])))
    try:
        for s in setup:
            conn.execute(s.format(**n))
        start = max_execution_id(conn)
        text = query.format(**n)
        assert all(s in text for s in secrets)
        conn.execute(text)  # one query string, simple protocol
        assert _secret_hits(conn, secrets) == []
        rows = conn.execute("SELECT command_tag, statement FROM script_tracking.ddl_history"
                            " WHERE execution_id > %s ORDER BY execution_id", (start,)).fetchall()
        assert [t for t, _ in rows] == tags, rows
        assert all(st and "<statement withheld" not in st for _, st in rows), rows
        assert [w for w in notes.warnings() if w.startswith("script_tracking")] == []
    finally:
        _cleanup(conn, n)


def test_standard_conforming_strings_off(installed_db, connect):
    """With standard_conforming_strings off, '...\\'...' is one literal: it is still redacted whole."""
    n = _names()
    conn = connect(installed_db)
    conn.execute("SET escape_string_warning = off")
    conn.execute("SET standard_conforming_strings = off")
    conn.execute(FDW.format(**n))
    start = max_execution_id(conn)
    conn.execute("CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (password 'zqscs1\\' zqscs2')".format(**n))
    assert _secret_hits(conn, ["zqscs1", "zqscs2"]) == []
    assert conn.execute("SELECT statement FROM script_tracking.ddl_history WHERE execution_id > %s",
                        (start,)).fetchone()[0] == (
        "CREATE SERVER {srv} FOREIGN DATA WRAPPER {fdw} OPTIONS (password '<redacted>')".format(**n))


def test_reader_sees_redacted_statement(installed_db, connect):
    """The reader role reads ddl_history; the user mapping's password is not in it."""
    n = _names()
    conn = connect(installed_db)
    for s in SRV[:2]:
        conn.execute(s.format(**n))
    conn.execute("CREATE USER MAPPING FOR postgres SERVER {srv} OPTIONS (password 'zqreaderpw')".format(**n))
    reader = f"rd_{n['id']}"
    conn.execute(f"CREATE ROLE {reader} NOLOGIN")
    try:
        conn.execute(f"GRANT USAGE ON SCHEMA script_tracking TO {reader}")
        conn.execute(f"GRANT SELECT ON script_tracking.ddl_history TO {reader}")
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {reader}")
            stmts = [r[0] for r in conn.execute("SELECT statement FROM script_tracking.ddl_history"
                                                " WHERE command_tag = 'CREATE USER MAPPING'")]
            # PostgreSQL itself hides the option from a non-owner
            assert conn.execute("SELECT umoptions FROM pg_user_mappings WHERE srvname = %s",
                                (n["srv"],)).fetchone()[0] is None
        assert stmts == ["CREATE USER MAPPING FOR postgres SERVER {srv} OPTIONS (password '<redacted>')".format(**n)]
    finally:
        conn.execute(f"DROP OWNED BY {reader}")
        conn.execute(f"DROP ROLE {reader}")


def test_secret_scan_sees_quotes_backslashes_and_non_ascii(installed_db, connect):
    """The scan itself: a statement without a secret word is recorded as written, so a
    "secret" holding characters JSON escapes (quote, backslash, tab) is found in it."""
    conn = connect(installed_db)
    odd = 'zq"o\\d\td\u20ac'
    conn.execute(f"CREATE TABLE public.odd (c text DEFAULT '{odd}')")
    assert conn.execute("SELECT statement FROM script_tracking.ddl_history WHERE object_identity = 'public.odd'"
                        ).fetchone()[0] == f"CREATE TABLE public.odd (c text DEFAULT '{odd}')"
    assert _secret_hits(conn, [odd]) == ["script_tracking.ddl_history: " + odd,
                                         "script_tracking.ddl_journal: " + odd]


# --------------------------------------------- the statement of the command, unchanged

def _statements(conn, start) -> list[tuple[str, str]]:
    return conn.execute("SELECT command_tag, statement FROM script_tracking.ddl_history"
                        " WHERE execution_id > %s ORDER BY execution_id", (start,)).fetchall()


def test_multi_statement_string_keeps_each_commands_own_statement(installed_db, connect):
    conn = connect(installed_db)
    start = max_execution_id(conn)
    conn.execute("CREATE TABLE public.a1 (x int, note text DEFAULT 'a;b');\n"
                 "CREATE TABLE public.a2 (y int);\n"
                 "CREATE VIEW public.v1 AS SELECT x FROM public.a1;  -- a view\n"
                 "COMMENT ON TABLE public.a1 IS 'first; table';\n"
                 "CREATE OR REPLACE FUNCTION public.f1() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n"
                 "CREATE UNIQUE INDEX a1_x ON public.a1 (x)")
    assert _statements(conn, start) == [
        ("CREATE TABLE", "CREATE TABLE public.a1 (x int, note text DEFAULT 'a;b')"),
        ("CREATE TABLE", "CREATE TABLE public.a2 (y int)"),
        ("CREATE VIEW", "CREATE VIEW public.v1 AS SELECT x FROM public.a1"),
        ("COMMENT", "COMMENT ON TABLE public.a1 IS 'first; table'"),
        ("CREATE FUNCTION",
         "CREATE OR REPLACE FUNCTION public.f1() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$"),
        ("CREATE INDEX", "CREATE UNIQUE INDEX a1_x ON public.a1 (x)"),
    ]
    start = max_execution_id(conn)
    conn.execute("DROP VIEW public.v1; DROP TABLE public.a2; DROP TABLE public.a1")
    assert _statements(conn, start) == [("DROP VIEW", "DROP VIEW public.v1"),
                                        ("DROP TABLE", "DROP TABLE public.a2"),
                                        ("DROP TABLE", "DROP TABLE public.a1")]


def test_statement_not_told_apart_keeps_all_of_its_kind(installed_db, connect):
    """Two CREATE INDEX without names: both are candidates for each index (not told apart)."""
    conn = connect(installed_db)
    conn.execute("CREATE TABLE public.b (x int, y int)")
    start = max_execution_id(conn)
    conn.execute("CREATE INDEX ON public.b (x); SELECT 1; CREATE INDEX ON public.b (y)")
    rows = _statements(conn, start)
    assert [t for t, _ in rows] == ["CREATE INDEX", "CREATE INDEX"]
    both = "CREATE INDEX ON public.b (x);\nCREATE INDEX ON public.b (y)"
    assert [s for _, s in rows] == [both, both]


ORDINARY = [
    "CREATE TABLE public.orders (id int PRIMARY KEY, note text)",
    "CREATE TABLE public.o2 (id int);",
    "  CREATE TABLE public.o3 (id int) ;  \n",
    "CREATE INDEX orders_note_idx ON public.orders (note)",
    "CREATE FUNCTION public.add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'",
    "CREATE FUNCTION public.f2(a int) RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  a := a + 1;\n  RETURN a;\nEND\n$$;",
    "-- migration 12\nCREATE OR REPLACE FUNCTION public.f3() RETURNS int LANGUAGE plpgsql\n"
    "AS $body$ BEGIN PERFORM 1; RETURN 2; END $body$ IMMUTABLE; -- done",
    "CREATE FUNCTION public.f4(a text DEFAULT 'x;y') RETURNS text LANGUAGE sql AS $$ SELECT a || ';' $$",
    "CREATE VIEW public.orders_v AS SELECT id, note FROM public.orders WHERE note <> ';'",
    "ALTER TABLE public.orders ADD COLUMN mood text DEFAULT 'happy'",
    "COMMENT ON TABLE public.orders IS 'orders; the main table'",
    "DO $$ BEGIN EXECUTE 'CREATE TABLE public.from_do (x int)'; END $$",
    "DROP TABLE public.o2",
]


def test_ordinary_ddl_is_stored_unchanged(installed_db, connect):
    conn = connect(installed_db)
    for stmt in ORDINARY:
        start = max_execution_id(conn)
        conn.execute(stmt)
        rows = _statements(conn, start)
        assert rows and all(s == stmt for _, s in rows), (stmt, rows)


def test_statement_cut_at_10000_characters_after_redaction(installed_db, connect):
    """(query strings up to 16 kB: longer ones are test_long_query_string_...)"""
    conn = connect(installed_db)
    cols = ", ".join(f"c{i} int" for i in range(1200))
    start = max_execution_id(conn)
    conn.execute(f"CREATE TABLE public.wide ({cols})")
    (s,) = [s for _, s in _statements(conn, start)]
    assert len(s) == 10000 and s == f"CREATE TABLE public.wide ({cols})"[:10000]
    start = max_execution_id(conn)
    conn.execute(f"CREATE TABLE public.wide2 (a text DEFAULT '{'zqlongpw' * 1500}'); "
                 f"SELECT 1; COMMENT ON TABLE public.wide2 IS '{'x' * 3000} password'")
    assert _statements(conn, start) == [
        ("CREATE TABLE", f"CREATE TABLE public.wide2 (a text DEFAULT '{'zqlongpw' * 1500}')"[:10000]),
        ("COMMENT", "COMMENT ON TABLE public.wide2 IS '<redacted>'")]


def test_long_query_string_records_its_beginning_redacted(installed_db, connect):
    """A query string over 16 kB (a whole migration file): each event records the first
    4,000 characters of it, every literal redacted, and costs no more than that."""
    conn = connect(installed_db)
    n = 300
    text = "".join(f"CREATE TABLE public.m{i} (id int, note text DEFAULT 'zqlongsecret{i}'); -- note {i}\n"
                   for i in range(n)) + "SELECT 'zqlongsecret_end'"
    assert len(text.encode()) > 16384
    start = max_execution_id(conn)
    conn.execute(text)
    rows = _statements(conn, start)
    assert len(rows) == n and {t for t, _ in rows} == {"CREATE TABLE"}
    expected = conn.execute(f"SELECT {FN}(%s, 'CREATE TABLE')", (text,)).fetchone()[0]
    assert {s for _, s in rows} == {expected}
    assert expected.startswith("CREATE TABLE public.m0 (id int, note text DEFAULT '<redacted>');")
    assert "\nCREATE TABLE public.m1 (id int, note text DEFAULT '<redacted>');" in expected
    assert len(expected) < 4000 and "zqlongsecret" not in expected and "note 0" not in expected
    assert _secret_hits(conn, ["zqlongsecret"]) == []


# ------------------------------------------------------------- the function itself

@pytest.fixture(scope="module")
def fn_db(pg):
    """One installed database for the tests that only call the function."""
    name = _create_db(pg)
    pg.psql(name, file=SQL_DIR / "install.sql")
    yield name
    _drop_db(pg, name)


@pytest.mark.parametrize("query, tag, objects, expected", [
    ("create table t1 (id int); alter role r password 'p'", "CREATE TABLE", None, "create table t1 (id int)"),
    ("CREATE UNLOGGED TABLE IF NOT EXISTS t (x int); SELECT 1", "CREATE TABLE", None,
     "CREATE UNLOGGED TABLE IF NOT EXISTS t (x int)"),
    ("select 1; create temp table t (x int)", "CREATE TABLE", None, "create temp table t (x int)"),
    ("SELECT 1; CREATE UNIQUE INDEX CONCURRENTLY i ON t (x)", "CREATE INDEX", None,
     "CREATE UNIQUE INDEX CONCURRENTLY i ON t (x)"),
    ("SELECT 1; CREATE OR REPLACE TRIGGER tr AFTER INSERT ON t EXECUTE FUNCTION f()", "CREATE TRIGGER", None,
     "CREATE OR REPLACE TRIGGER tr AFTER INSERT ON t EXECUTE FUNCTION f()"),
    ("SELECT 1; CREATE TABLE x AS SELECT 2", "CREATE TABLE AS", None, "CREATE TABLE x AS SELECT 2"),
    ("CREATE TABLE a(); WITH q AS (SELECT 1) SELECT * INTO y FROM q", "SELECT INTO", None,
     "WITH q AS (SELECT 1) SELECT * INTO y FROM q"),
    ("SELECT 1; /* c */ ALTER /* d */ DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC", "ALTER DEFAULT PRIVILEGES",
     None, "ALTER /* d */ DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC"),
    ("CREATE TABLE a (x int); CREATE TABLE b (y int)", "CREATE TABLE", ["public.b"], "CREATE TABLE b (y int)"),
    ('CREATE TABLE "Odd;Name" ("a""b" int); CREATE TABLE b ()', "CREATE TABLE", ['public."Odd;Name"'],
     'CREATE TABLE "Odd;Name" ("a""b" int)'),
    ("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1",
     "CREATE RULE", None, "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))"),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;"
     " CREATE TABLE z ()", "CREATE FUNCTION", None,
     "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END"),
    ("CREATE TABLE a (x text DEFAULT $BODY$ a'b $$ ; $BODY$); SELECT 1", "CREATE TABLE", None,
     "CREATE TABLE a (x text DEFAULT $BODY$ a'b $$ ; $BODY$)"),
    ("CREATE TABLE a$$b (x int); SELECT 1", "CREATE TABLE", None, "CREATE TABLE a$$b (x int)"),
    ("ALTER ROLE r PASSWORD 'p'", "ALTER ROLE", None, "ALTER ROLE r PASSWORD " + RED),
    ("CREATE TABLE t (d date DEFAULT date'2020-01-01', p text DEFAULT 'password')", "CREATE TABLE", None,
     f"CREATE TABLE t (d date DEFAULT date{RED}, p text DEFAULT {RED})"),
    ("DO $$ BEGIN CREATE TABLE x(); END $$; ALTER ROLE r PASSWORD 'p'", "CREATE TABLE", None,
     f"DO {RED}; ALTER ROLE r PASSWORD {RED}"),
    ("-- password\nCREATE TABLE t ()", "CREATE TABLE", None, "CREATE TABLE t ()"),
    ("CREATE TABLE t (a text DEFAULT 'x' /* secret */)", "CREATE TABLE", None, f"CREATE TABLE t (a text DEFAULT {RED}  )"),
    # a literal goes on after whitespace with a newline (\n or \r; -- comments count as
    # whitespace, /* */ do not): E'...' continued keeps its backslash escapes
    ("ALTER ROLE r PASSWORD E'a' --c\n'\\'b'", "ALTER ROLE", None, f"ALTER ROLE r PASSWORD {RED}"),
    ("ALTER ROLE r PASSWORD E'a'\r'\\'b'", "ALTER ROLE", None, f"ALTER ROLE r PASSWORD {RED}"),
    ("ALTER ROLE r PASSWORD E'a' \t\r\n\f-- c\r\n\n--d\r'\\'b'", "ALTER ROLE", None, f"ALTER ROLE r PASSWORD {RED}"),
    ("COMMENT ON TABLE a IS E'password'\r'\\'; SELECT 1; '", "COMMENT", None, f"COMMENT ON TABLE a IS {RED}"),
    ("SELECT 1; COMMENT ON TABLE a IS 'x' -- password\r';'; SELECT 2", "COMMENT", None, f"COMMENT ON TABLE a IS {RED}"),
    ("ALTER ROLE r PASSWORD U&'a' -- c\n'b'", "ALTER ROLE", None, f"ALTER ROLE r PASSWORD U&{RED}"),
    ("CREATE TABLE t (a text DEFAULT 'a' /* c */\n'password'); SELECT 1", "CREATE TABLE", None,
     f"CREATE TABLE t (a text DEFAULT {RED}  \n{RED})"),
    # comments nested 2 deep are lexed inline, deeper ones are looked for
    ("SELECT 1; CREATE TABLE t () /* /* password */ ; */", "CREATE TABLE", None, "CREATE TABLE t ()"),
    ("SELECT 1; CREATE TABLE t () /* a /* b /* c */ ; */ ; */; ALTER ROLE r PASSWORD 'p'", "CREATE TABLE", None,
     "CREATE TABLE t () /* a /* b /* c */ ; */ ; */"),
    ("CREATE TABLE t () /*/ password **/ /* /*/ */ */", "CREATE TABLE", None, "CREATE TABLE t ()"),
    # over 16 kB: the first 4,000 characters, always redacted, cut literals included
    ("DO $$ BEGIN " + "PERFORM 1; " * 2000 + "END $$", "CREATE TABLE", None, f"DO {RED}"),
    ("SELECT 1; /* " + "x" * 17000 + " */ CREATE TABLE t ()", "CREATE TABLE", None, "SELECT 1;"),
    ("CREATE TABLE t (" + ", ".join(f"c{i} int" for i in range(2000)) + ")", "CREATE TABLE", None,
     ("CREATE TABLE t (" + ", ".join(f"c{i} int" for i in range(2000)) + ")")[:4000]),
    ("", "CREATE TABLE", None, ""),
    ("; ;", "CREATE TABLE", None, "; ;"),
    (None, "CREATE TABLE", None, None),
])
def test_statement_text(fn_db, connect, query, tag, objects, expected):
    conn = connect(fn_db)
    assert conn.execute(f"SELECT {FN}(%s, %s, %s)", (query, tag, objects)).fetchone()[0] == expected


@pytest.mark.parametrize("query", [
    "ALTER ROLE r PASSWORD 'unterminated",
    "ALTER ROLE r PASSWORD $$unterminated",
    "ALTER ROLE r PASSWORD $x$unterminated $y$",
    "ALTER ROLE r PASSWORD 'p' /* unterminated comment",
    "ALTER ROLE r PASSWORD 'p' /* nested /* unterminated */",
    "ALTER ROLE r PASSWORD E'unterminated\\'",
    "ALTER ROLE \"unterminated PASSWORD 'p'",
])
def test_text_that_cannot_be_lexed_safely_is_withheld(fn_db, connect, query):
    conn = connect(fn_db)
    assert conn.execute(f"SELECT {FN}(%s, 'CREATE TABLE')", (query,)).fetchone()[0] == (
        "<statement withheld: it could not be redacted safely>")
    # without a secret word the text is kept as it is
    assert conn.execute(f"SELECT {FN}(%s, 'CREATE TABLE')", (query.replace("PASSWORD", "X"),)).fetchone()[0] == (
        query.replace("PASSWORD", "X"))


def test_never_raises_and_never_returns_a_secret(fn_db, connect):
    """Random splices of SQL punctuation and corpus fragments: no error, and a secret
    inside a literal of a secret-bearing statement never comes back."""
    conn = connect(fn_db)
    rng = random.Random(11)
    pieces = ["'", "''", '"', "$$", "$a$", "$1", "E'", "\\'", "\\", "--", "\n", "\r", "\r\n", "\f", "\v", " --c\n",
              "/*", "*/", "/* /* */", ";", "(", ")", "CREATE TABLE t ", "ALTER ROLE r PASSWORD ", "BEGIN ATOMIC ", " END",
              "U&'", "x", " ", "é", "😀"]
    queries = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(400)]
    got = conn.execute(f"SELECT {FN}(q, 'CREATE TABLE') FROM unnest(%s::text[]) q", (queries,)).fetchall()
    assert len(got) == len(queries) and all(g[0] is not None for g in got)
    # well-formed: a password literal in every shape, in random positions of a query string;
    # continued across newlines and -- comments (an E'...' one's parts all with escapes)
    shapes = ["'zqfz'", "E'zq\\'fz'", "$$zqfz$$", "$t$zqfz$t$", "U&'zqfz'", "'zq''fz'",
              "E'zq' --c\n'\\'fz\\''", "E'zq'\r'\\'fz\\''", "E'zq'\r\n-- c\r\n'\\'fz\\''",
              "E'zq' \t\n\n--c\n  '\\'fz\\''", "'zq' --c\n'fz'", "U&'zq'\r'fz'", "E'zq'\n'\\'fz\\';x'"]
    fillers = ["CREATE TABLE t (x int)", "SELECT ';'", "/* ; */", "-- ;\n", "-- ;\r", "DO $$ BEGIN NULL; END $$",
               "/* /* ; */ */", "SELECT E'a'\r'b'", "SELECT 'a' -- ;\n';'"]
    texts = []
    for _ in range(300):
        parts = [rng.choice(fillers) for _ in range(rng.randint(0, 3))]
        parts.insert(rng.randint(0, len(parts)), f"ALTER ROLE r PASSWORD {rng.choice(shapes)}")
        texts.append("; ".join(parts))
    for tag in ("CREATE TABLE", "ALTER ROLE", "DO"):
        out = conn.execute(f"SELECT {FN}(q, %s) FROM unnest(%s::text[]) q", (tag, texts)).fetchall()
        leaks = [(t, o[0]) for t, o in zip(texts, out) if "fz" in o[0]]
        assert leaks == []


def _fill(head: str, unit: str, tail: str = "", size: int = 15500) -> str:
    """head + unit repeated + tail, about size bytes (under 16 kB: split in full)."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def _functions(n: int = 20, size: int = 15500) -> str:
    out = []
    for i in range(n):
        head = f"CREATE FUNCTION f_slow{i}() RETURNS SETOF text LANGUAGE sql AS $t{i}$ SELECT 'password=zqslow3'::text"
        out.append(_fill(head, " UNION ALL SELECT 'x;y'", f" $t{i}$;\n", size // n))
    return "".join(out)


def _many_tags(size: int = 15500) -> str:
    out, i = "CREATE TABLE t_many (a text DEFAULT 'zqslow5' /* password */); SELECT ''", 0
    while len(out) < size - 20:
        out, i = out + f"||$q{i}$zqslow5$q{i}$", i + 1
    return out


# (tag, objects, query string, what the result starts with): ~15 kB each, every literal a secret
PATHOLOGICAL = {
    # comments nested 2 deep (lexed inline)
    "nested-comments": ("CREATE TABLE", None, _fill("CREATE TABLE t_n (a text DEFAULT 'zqslow1') /* password */ ",
                                                    "/* /* */ */ "),
                        "CREATE TABLE t_n (a text DEFAULT '<redacted>')"),
    # 10 distinct dollar-quote tags, then one more, repeated
    "distinct-tags": ("CREATE TABLE", None,
                      _fill("CREATE TABLE t_d (a text DEFAULT 'zqslow2' /* password */); "
                            + "".join(f"SELECT $a{i}$zqslow2$a{i}$; " for i in range(10)), "SELECT $zz$zqslow2$zz$; "),
                      "CREATE TABLE t_d (a text DEFAULT '<redacted>'"),
    # 20 functions, each with a tag of its own: each event gets its own function's statement
    "functions": ("CREATE FUNCTION", ["public.f_slow7()"], _functions(),
                  "CREATE FUNCTION f_slow7() RETURNS SETOF text LANGUAGE sql AS '<redacted>'"),
    # comments nested 3 deep: each one's end is looked for (bounded: then the text is cut)
    "deep-comments": ("CREATE TABLE", None, _fill("CREATE TABLE t_c (a text DEFAULT 'zqslow4') /* password */ ",
                                                  "/* /* /* zqslow4 */ */ */ "),
                      "CREATE TABLE t_c (a text DEFAULT '<redacted>')"),
    # a new tag at every step (bounded likewise)
    "many-tags": ("CREATE TABLE", None, _many_tags(), "CREATE TABLE t_many (a text DEFAULT '<redacted>'"),
}


@pytest.mark.parametrize("shape", list(PATHOLOGICAL))
def test_pathological_query_strings_cost_bounded_work(fn_db, connect, shape):
    """The event trigger runs this while it holds the DDL's locks: query strings that make
    the lexer start over many times (nested comments, many dollar-quote tags) cost a bounded
    time per event, measured within one call, and still return no secret."""
    tag, objects, query, start = PATHOLOGICAL[shape]
    assert 15000 <= len(query.encode()) <= 16384
    conn = connect(fn_db)
    # the argument through a subquery with OFFSET 0: the immutable call is not folded at plan time
    t0, out, t1 = conn.execute(f"SELECT clock_timestamp(), {FN}(x.q, %s, %s), clock_timestamp()"
                               " FROM (SELECT %s::text AS q OFFSET 0) x", (tag, objects, query)).fetchone()
    ms = (t1 - t0).total_seconds() * 1000
    # a bound on the work, not a benchmark: these took 1.3-7 s before the lexer was bounded and
    # take 10-50 ms now; a loaded 2-core machine stays far below the bound
    assert ms < 1000, (shape, ms)
    assert out.startswith(start) and "zqslow" not in out, (shape, out[:300])


def test_function_is_immutable_and_private(fn_db, connect):
    conn = connect(fn_db)
    assert conn.execute(
        "SELECT p.provolatile, p.proparallel, p.prosecdef, has_function_privilege('public', p.oid, 'EXECUTE'),"
        "       p.proconfig"
        "  FROM pg_proc p WHERE p.oid = %s::regprocedure",
        (f"{FN}(text, text, text[], boolean)",)).fetchone() == (
        "i", "s", False, False, ["search_path=pg_catalog, pg_temp", "standard_conforming_strings=on"])
