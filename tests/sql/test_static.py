"""The SQL files follow the declarative layout the Pulumi provider relies on.

No database needed: files 10-40 are parsed with pglast (the provider's parser) and
every statement, and the SQL inside every function body, is checked.
"""

from __future__ import annotations

import re

import pglast
import pytest
from pglast import ast, parse_plpgsql, parse_sql
from pglast.parser import split

from tests.sql.conftest import SQL_DIR
from tests.sql import seed_sql

DECLARATIVE = ["10_audit.sql", "20_tracking.sql", "30_ddl_tracker.sql", "40_ddl_triggers.sql"]
ALLOWED = (
    ast.CreateStmt, ast.CreateSeqStmt, ast.CreateFunctionStmt, ast.IndexStmt, ast.ViewStmt,
    ast.CreateEventTrigStmt, ast.CommentStmt, ast.GrantStmt, ast.AlterSeqStmt,
    ast.InsertStmt,  # a table's fill, run when the table is created (sqlsource)
)
OUR_SCHEMAS = {"util", "script_tracking", "public", "pg_catalog"}


def _walk(node):
    """Yield every pglast node below (and including) node."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, ast.Node):
        yield node
        for attr in type(node).__slots__:
            yield from _walk(getattr(node, attr, None))


def _statements(name: str) -> list[tuple[str, ast.Node]]:
    src = (SQL_DIR / name).read_text()
    texts = split(src)
    stmts = parse_sql(src)
    assert len(texts) == len(stmts)
    return [(t, s.stmt) for t, s in zip(texts, stmts)]


def _unqualified(tree, where: str) -> list[str]:
    """Unqualified table/function references (CTE names excluded)."""
    bad = []
    ctes = {c.ctename for c in _walk(tree) if isinstance(c, ast.CommonTableExpr)}
    for n in _walk(tree):
        if isinstance(n, ast.RangeVar) and not n.schemaname and n.relname not in ctes:
            bad.append(f"{where}: table {n.relname}")
        if isinstance(n, ast.FuncCall) and len(n.funcname) < 2:
            bad.append(f"{where}: function {n.funcname[-1].sval}")
    return bad


def _plpgsql_queries(obj) -> list[tuple[str, int]]:
    out = []
    if isinstance(obj, dict):
        if "PLpgSQL_expr" in obj:
            e = obj["PLpgSQL_expr"]
            out.append((e["query"], e.get("parseMode", 0)))
        for v in obj.values():
            out += _plpgsql_queries(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _plpgsql_queries(v)
    return out


def _as_sql(query: str, mode: int) -> str:
    if mode == 0:
        return query
    if ":=" in query and mode >= 3:  # assignment "v := expr"
        query = query.split(":=", 1)[1]
    return "SELECT " + query


@pytest.mark.parametrize("name", DECLARATIVE)
def test_declarative_statement_kinds(name):
    stmts = _statements(name)
    assert stmts, name
    for text, st in stmts:
        assert isinstance(st, ALLOWED), f"{name}: not allowed: {type(st).__name__}: {text[:80]}"
        if isinstance(st, (ast.CreateStmt, ast.CreateSeqStmt, ast.IndexStmt)):
            assert not st.if_not_exists, f"{name}: IF NOT EXISTS: {text[:80]}"
        if isinstance(st, ast.CreateEventTrigStmt):
            assert name == "40_ddl_triggers.sql"
        if name == "40_ddl_triggers.sql":
            assert isinstance(st, (ast.CreateEventTrigStmt, ast.CommentStmt)), text[:80]
        if isinstance(st, ast.AlterSeqStmt):
            opts = [o.defname for o in st.options or ()]
            assert opts == ["owned_by"], f"{name}: only ALTER SEQUENCE ... OWNED BY: {text[:80]}"
        if isinstance(st, ast.GrantStmt):
            assert len(st.objects) == 1, f"{name}: one object per GRANT/REVOKE: {text[:80]}"
    raw = (SQL_DIR / name).read_text()
    assert not re.search(r"(?m)^\s*\\", raw), f"{name}: psql meta-command"
    assert not re.search(r"(?i)\bIF\s+NOT\s+EXISTS\b", raw), f"{name}: IF NOT EXISTS"


@pytest.mark.parametrize("name", DECLARATIVE)
def test_names_schema_qualified_and_explicit(name):
    bad: list[str] = []
    for text, st in _statements(name):
        head = text.strip().splitlines()[0][:70]
        if isinstance(st, ast.CreateStmt):
            assert st.relation.schemaname in OUR_SCHEMAS, head
            for c in _walk(st):
                if isinstance(c, ast.Constraint) and c.contype.name in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN"):
                    assert c.conname, f"{head}: unnamed {c.contype.name}"
        elif isinstance(st, ast.CreateSeqStmt):
            assert st.sequence.schemaname in OUR_SCHEMAS, head
        elif isinstance(st, ast.IndexStmt):
            assert st.idxname, f"{head}: index must be named"
            assert st.relation.schemaname, head
        elif isinstance(st, ast.ViewStmt):
            assert st.view.schemaname, head
            assert not st.replace or True
        elif isinstance(st, ast.CreateFunctionStmt):
            assert len(st.funcname) == 2, f"{head}: function name not schema-qualified"
        bad += _unqualified(st, head) if not isinstance(st, ast.CreateFunctionStmt) else []
    assert not bad, bad


def _functions():
    for name in DECLARATIVE:
        for text, st in _statements(name):
            if isinstance(st, ast.CreateFunctionStmt):
                yield name, text, st


def _opts(st: ast.CreateFunctionStmt) -> dict:
    return {o.defname: o.arg for o in st.options}


def test_function_bodies_fully_qualified():
    bad: list[str] = []
    seen = 0
    for name, text, st in _functions():
        fname = ".".join(p.sval for p in st.funcname)
        opts = _opts(st)
        lang = opts["language"].sval
        body = opts["as"][0].sval
        assert "$$" in text, f"{fname}: dollar-quote bodies with $$"
        if lang == "sql":
            for s in parse_sql(body):
                bad += _unqualified(s.stmt, fname)
        elif lang == "plpgsql":
            for query, mode in _plpgsql_queries(parse_plpgsql(text)):
                for s in parse_sql(_as_sql(query, mode)):
                    bad += _unqualified(s.stmt, fname)
        else:
            pytest.fail(f"{fname}: unexpected language {lang}")
        seen += 1
    assert seen >= 8
    assert not bad, bad


def test_security_definer_functions_pin_search_path_and_are_revoked():
    revoked = set()
    for name in DECLARATIVE:
        for text, st in _statements(name):
            if isinstance(st, ast.GrantStmt) and not st.is_grant and st.objtype.name == "OBJECT_FUNCTION":
                assert [g.roletype.name for g in st.grantees] == ["ROLESPEC_PUBLIC"]
                revoked.add(".".join(p.sval for p in st.objects[0].objname))
    definers = 0
    for name, text, st in _functions():
        fname = ".".join(p.sval for p in st.funcname)
        assert fname in revoked, f"{fname}: missing REVOKE ALL ... FROM PUBLIC"
        opts = _opts(st)
        sets = {o.arg.name: o.arg for o in st.options if o.defname == "set"}
        if opts.get("security") and opts["security"].boolval:
            definers += 1
            sp = sets.get("search_path")
            assert sp is not None, f"{fname}: SECURITY DEFINER without SET search_path"
            assert [a.val.sval for a in sp.args] == ["pg_catalog", "pg_temp"], fname
        if fname.startswith("script_tracking.ddl_tracker_"):
            assert "lock_timeout" in sets, f"{fname}: event trigger function needs SET lock_timeout"
            assert opts["security"].boolval
    assert definers >= 8


def test_tables_revoked_from_public():
    tables, revoked = set(), set()
    for name in DECLARATIVE:
        for text, st in _statements(name):
            if isinstance(st, ast.CreateStmt):
                tables.add(f"{st.relation.schemaname}.{st.relation.relname}")
            if isinstance(st, ast.GrantStmt) and not st.is_grant and st.objtype.name == "OBJECT_TABLE":
                rv = st.objects[0]
                revoked.add(f"{rv.schemaname}.{rv.relname}")
    assert {"util.audit_log", "script_tracking.script_execution_h", "script_tracking.script_execution_s",
            "script_tracking.ddl_tracker_filter"} <= tables
    assert tables <= revoked


def test_seed_object_names_are_created():
    created = set()
    for name in DECLARATIVE:
        for text, st in _statements(name):
            if isinstance(st, ast.CreateStmt):
                created.add(f"{st.relation.schemaname}.{st.relation.relname}")
            elif isinstance(st, ast.CreateSeqStmt):
                created.add(f"{st.sequence.schemaname}.{st.sequence.relname}")
            elif isinstance(st, ast.CreateFunctionStmt):
                created.add(".".join(p.sval for p in st.funcname))
            elif isinstance(st, ast.CreateEventTrigStmt):
                created.add(st.trigname)
    for kind in ("tables", "sequences", "functions", "event_triggers"):
        for obj in seed_sql.SEED_OBJECTS[kind]:
            assert obj in created, obj
    assert "auto_ddl_tracker_drop" in created


def test_installer_and_schema_files():
    assert [s.stmt.schemaname for s in parse_sql((SQL_DIR / "00_schemas.sql").read_text())] == [
        "util", "script_tracking"]
    assert all(s.stmt.if_not_exists for s in parse_sql((SQL_DIR / "00_schemas.sql").read_text()))
    lines = [l.strip() for l in (SQL_DIR / "install.sql").read_text().splitlines()
             if l.strip() and not l.strip().startswith("--")]
    assert lines == ["\\set ON_ERROR_STOP on", "BEGIN;", "\\ir 00_schemas.sql", "\\ir 10_audit.sql",
                     "\\ir 20_tracking.sql", "\\ir 30_ddl_tracker.sql", "\\ir 35_owner.sql", "\\ir 40_ddl_triggers.sql",
                     "COMMIT;"]
    un = [l.strip() for l in (SQL_DIR / "uninstall.sql").read_text().splitlines()
          if l.strip() and not l.strip().startswith("--")]
    assert un[:2] == ["\\set ON_ERROR_STOP on", "BEGIN;"] and un[-1] == "COMMIT;"
    drops = un[2:un.index("DO $$")]  # then the owner role, if no other database uses it
    assert drops and all("IF EXISTS" in l for l in drops), un


def test_seed_sql_is_verbatim():
    """The strings in seed_sql.py are the seed's SQL, character for character."""
    from tests.conftest import REPO
    text = (REPO / "docs" / "seed" / "DEPLOYMENT_INSTRUCTIONS.md").read_text()
    strings = [seed_sql.TEST1_BASIC_TRACKING, seed_sql.TEST2_EVENT_TRIGGER, seed_sql.TEST3_VIEW_HISTORY,
               seed_sql.FINAL_VERIFICATION]
    for s in strings:
        assert s in text, s[:60]
    # always: the strings are what the SQL parser sees as the seed's statements
    assert [type(s.stmt).__name__ for s in parse_sql(seed_sql.TEST2_EVENT_TRIGGER)] == ["CreateStmt", "DropStmt"]
    assert type(parse_sql(seed_sql.FINAL_VERIFICATION)[0].stmt).__name__ == "DoStmt"
    assert "\n    \n" in seed_sql.FINAL_VERIFICATION
