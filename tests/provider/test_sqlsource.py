"""sql/ as the provider sees it (no database): every object identified with the
right kind and identity, its statements attached, its dependencies found; and
normalization that ignores layout, comments and keyword case (inside PL/pgSQL
bodies too) but never a real change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pglast import ast, parse_sql

from script_tracking.desired import FILTER_TABLE, LIMIT_TABLE, Settings, SettingsError, desired_objects, rows_of
from script_tracking.kinds import _split
from script_tracking.sqlsource import (OBJECT_FILES, SQL_DIR, TRIGGER_FILES, SqlSourceError, fills, load_objects,
                                  normalize)

from .support import add_comments, changed_body, flip_case, objects_input, reformatted, respace, with_statements

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sqlsource" / "normalize"

SOURCES = load_objects(OBJECT_FILES + TRIGGER_FILES)
BY_ID = {o.identity: o for o in SOURCES}

EXPECTED = [
    ("table", "util.audit_log"),
    ("index", "util.audit_log_event_time_idx"),
    ("index", "util.audit_log_execution_idx"),
    ("function", "util.log_audit_event(text, text, text, text, jsonb)"),
    ("sequence", "script_tracking.script_execution_version_seq"),
    ("sequence", "script_tracking.script_execution_id_seq"),
    ("function", "script_tracking.valid_script_types()"),
    ("table", "script_tracking.tracking_limit"),
    ("view", "script_tracking.tracking_limits"),
    ("function", "script_tracking.limit_value(text)"),
    ("function", "script_tracking.shorten(text)"),
    ("table", "script_tracking.script_execution_h"),
    ("index", "script_tracking.script_execution_h_recent_idx"),
    ("index", "script_tracking.script_execution_h_name_recent_idx"),
    ("index", "script_tracking.script_execution_h_type_recent_idx"),
    ("table", "script_tracking.script_execution_s"),
    ("index", "script_tracking.script_execution_s_one_final_uq"),
    ("index", "script_tracking.script_execution_s_failed_recent_idx"),
    ("index", "script_tracking.script_execution_s_failed_name_idx"),
    ("index", "script_tracking.script_execution_s_failed_type_idx"),
    ("view", "script_tracking.script_execution_running_derived"),
    ("table", "script_tracking.script_execution_running"),
    ("index", "script_tracking.script_execution_running_recent_idx"),
    ("function", "script_tracking.track_operation(text, text, jsonb)"),
    ("function", "script_tracking.complete_operation(bytea, boolean, text)"),
    ("function", "script_tracking.get_execution_history(text, text, text, timestamptz, timestamptz, integer)"),
    ("function", "script_tracking.purge_executions(interval, integer)"),
    ("function", "script_tracking.rebuild_running_set()"),
    ("function", "public.track_operation(text, text, jsonb)"),
    ("function", "public.complete_operation(bytea, boolean, text)"),
    ("table", "script_tracking.ddl_tracker_filter"),
    ("view", "script_tracking.ddl_tracker_filter_sets"),
    ("function", "script_tracking.ddl_filter_allows(text, text)"),
    ("function", "script_tracking.ddl_secret_words()"),
    ("function", "script_tracking.ddl_statement_plain(text)"),
    ("function", "script_tracking.ddl_statement_text(text, text, text[], boolean)"),
    ("table", "script_tracking.ddl_journal"),
    ("index", "script_tracking.ddl_journal_tag_recent_idx"),
    ("function", "script_tracking.ddl_tracker_command_end()"),
    ("function", "script_tracking.ddl_tracker_sql_drop()"),
    ("view", "script_tracking.ddl_history"),
    ("event_trigger", "auto_ddl_tracker"),
    ("event_trigger", "auto_ddl_tracker_drop"),
]

CREATE_NODE = {"table": ast.CreateStmt, "index": ast.IndexStmt, "function": ast.CreateFunctionStmt,
               "sequence": ast.CreateSeqStmt, "view": ast.ViewStmt, "event_trigger": ast.CreateEventTrigStmt}


# ---------------------------------------------------------------- identification

def test_every_object_of_sql_is_identified_in_file_order():
    assert [(o.kind, o.identity) for o in SOURCES] == EXPECTED


def test_schema_and_name_match_the_identity():
    for o in SOURCES:
        if o.kind == "event_trigger":
            assert (o.schema, o.name) == (None, o.identity)
        else:
            assert o.identity.startswith(f"{o.schema}.{o.name}"), o.identity


def test_each_object_carries_its_create_then_its_comment_and_revoke():
    for o in SOURCES:
        parsed = [parse_sql(s) for s in o.statements]
        assert all(len(p) == 1 for p in parsed), f"{o.identity}: one statement per entry"
        first, *rest = [p[0].stmt for p in parsed]
        assert isinstance(first, CREATE_NODE[o.kind]), o.identity
        assert not any(isinstance(s, tuple(CREATE_NODE.values())) for s in rest), o.identity
        kinds = [type(s).__name__ for s in rest]
        if o.identity == "script_tracking.script_execution_running":  # and its fill
            assert kinds == ["CommentStmt", "GrantStmt", "InsertStmt"], (o.identity, kinds)
        elif o.kind in ("table", "function", "sequence", "view"):
            assert kinds == ["CommentStmt", "GrantStmt"], (o.identity, kinds)
        elif o.kind == "event_trigger":
            assert kinds == ["CommentStmt"], (o.identity, kinds)
        else:
            assert kinds == [], (o.identity, kinds)
        for s in o.statements:  # as written, without the file's comments or the terminator
            assert not s.startswith(("--", "/*")) and not s.endswith(";") and s == s.strip(), s[:60]


def test_revokes_are_attached_to_the_object_they_name():
    for o in SOURCES:
        for s in o.statements[1:]:
            stmt = parse_sql(s)[0].stmt
            if isinstance(stmt, ast.GrantStmt):
                assert not stmt.is_grant and [g.roletype.name for g in stmt.grantees] == ["ROLESPEC_PUBLIC"]
                name = o.identity.split("(")[0]
                assert name in s, (o.identity, s)


def test_dependencies():
    deps = {o.identity: set(o.depends_on) for o in SOURCES}
    assert deps["util.audit_log"] == set()
    assert deps["script_tracking.script_execution_h"] == set()
    assert deps["script_tracking.script_execution_s"] == {
        "script_tracking.script_execution_h", "script_tracking.script_execution_version_seq"}
    for idx, table in (("util.audit_log_event_time_idx", "util.audit_log"),
                       ("script_tracking.script_execution_h_recent_idx", "script_tracking.script_execution_h"),
                       ("script_tracking.script_execution_s_one_final_uq", "script_tracking.script_execution_s")):
        assert deps[idx] == {table}
    assert deps["util.log_audit_event(text, text, text, text, jsonb)"] == {"util.audit_log"}
    assert deps["script_tracking.track_operation(text, text, jsonb)"] >= {
        "script_tracking.script_execution_h", "script_tracking.script_execution_s",
        "script_tracking.script_execution_id_seq", "script_tracking.valid_script_types()",
        "script_tracking.script_execution_running", "util.audit_log"}
    assert deps["script_tracking.complete_operation(bytea, boolean, text)"] >= {
        "script_tracking.script_execution_h", "script_tracking.script_execution_s",
        "script_tracking.script_execution_running", "util.audit_log"}
    # the public wrappers call the script_tracking functions of the same name
    assert deps["public.track_operation(text, text, jsonb)"] == {
        "script_tracking.track_operation(text, text, jsonb)"}
    assert deps["public.complete_operation(bytea, boolean, text)"] == {
        "script_tracking.complete_operation(bytea, boolean, text)"}
    # a table's fill reads what it names: created before the table
    assert deps["script_tracking.script_execution_running"] == {"script_tracking.script_execution_running_derived"}
    assert deps["script_tracking.ddl_tracker_filter_sets"] == {"script_tracking.ddl_tracker_filter"}
    assert deps["script_tracking.ddl_history"] == {
        "script_tracking.script_execution_h", "script_tracking.script_execution_s", "script_tracking.ddl_journal"}
    # (a regclass literal inside a function body is a name too: the sequences)
    for fn in ("script_tracking.ddl_tracker_command_end()", "script_tracking.ddl_tracker_sql_drop()"):
        assert deps[fn] >= {"script_tracking.ddl_tracker_filter", "script_tracking.ddl_filter_allows(text, text)",
                            "script_tracking.ddl_journal", "script_tracking.ddl_statement_plain(text)",
                            "script_tracking.script_execution_id_seq", "script_tracking.script_execution_version_seq"}
    # event triggers wait for their functions
    assert deps["auto_ddl_tracker"] == {"script_tracking.ddl_tracker_command_end()"}
    assert deps["auto_ddl_tracker_drop"] == {"script_tracking.ddl_tracker_sql_drop()"}


def test_an_insert_fills_a_table_at_its_creation_only(tmp_path):
    (tmp_path / "a.sql").write_text(
        "CREATE TABLE s.a (x integer);\n"
        "CREATE TABLE s.b (y integer);\n"
        "COMMENT ON TABLE s.b IS 'b';\n"
        "INSERT INTO s.b (y) SELECT x FROM s.a;\n")
    b = load_objects(("a.sql",), tmp_path)[1]
    assert b.depends_on == ("s.a",) and fills(b.statements[2]) and not fills(b.statements[1])
    # a change of its comment runs the COMMENT again, not the fill (on a server: test_drift.py)
    assert _split(list(b.statements))[1] == ["COMMENT ON TABLE s.b IS 'b'"]
    (tmp_path / "b.sql").write_text(
        "CREATE TABLE s.a (x integer);\n"
        "CREATE VIEW s.v AS SELECT x FROM s.a;\n"
        "INSERT INTO s.v (x) VALUES (1);\n")
    with pytest.raises(SqlSourceError, match="b.sql: an INSERT can only fill a table, not s.v"):
        load_objects(("b.sql",), tmp_path)


def test_words_in_comments_and_string_texts_are_not_dependencies(tmp_path):
    (tmp_path / "a.sql").write_text(
        "CREATE TABLE s.a (x integer);\n"
        "CREATE TABLE s.b (y integer);\n"
        "-- s.a is mentioned here only\n"
        "CREATE FUNCTION s.f() RETURNS integer LANGUAGE plpgsql AS $$\n"
        "BEGIN\n  -- reads s.a? no.\n  /* s.a */\n  RETURN (SELECT count(*) FROM s.b);\nEND $$;\n")
    f = load_objects(("a.sql",), tmp_path)[2]
    assert f.depends_on == ("s.b",)


@pytest.mark.parametrize("track_ddl", [True, False])
def test_desired_objects_come_in_dependency_order(track_ddl):
    objects = desired_objects(Settings(track_ddl=track_ddl))
    seen: set[str] = set()
    for o in objects:
        missing = [d for d in o.depends_on if d not in seen]
        assert not missing, f"{o.kind} {o.identity} comes before {missing}"
        seen.add(o.identity)
    kinds = [o.kind for o in objects]
    assert kinds[:2] == ["schema", "schema"] and kinds[-1] == "data"
    assert ("event_trigger" in kinds) is track_ddl


def test_objects_in_our_schemas_wait_for_the_schema():
    for o in desired_objects(Settings()):
        if o.schema in ("util", "script_tracking") and o.kind not in ("schema", "data"):
            assert o.schema in o.depends_on, o.identity
        if o.schema == "public":
            assert "public" not in o.depends_on  # public is not ours to create


@pytest.mark.parametrize("field, value, problem", [
    ("writer_role", 'w"; DROP TABLE x; --', "is not a valid role name"),
    ("reader_role", "script_tracking_writer", "'script_tracking_writer' is also the writer role"),
    # named under the field that was set, not the one that kept its default
    ("writer_role", "script_tracking_reader", "'script_tracking_reader' is also the reader role"),
    ("writer_role", "script_tracking_owner", "'script_tracking_owner' is also the owner role"),
    ("ddl_exclude_schemas", ("bad schema",), "is not a valid schema name"),
    ("ddl_include_tags", ("create table",), "is not a valid command tag"),
    ("ddl_include_tags", "CREATE TABLE", "must be a list of strings"),
    ("track_ddl", "yes", "is not true or false"),
    ("sql_dir", "/nonexistent/sql", "is not a directory"),
])
def test_settings_refuse_bad_values_naming_the_field(field, value, problem):
    with pytest.raises(SettingsError) as e:
        Settings(**{field: value})
    assert e.value.field == field and problem in e.value.problem


def test_desired_quotes_role_names_and_filter_values():
    s = Settings(writer_role="w$1", reader_role="r",
                 ddl_exclude_schemas=("x$y",), ddl_include_tags=("CREATE TABLE",), retention_days=30)
    objects = desired_objects(s)
    for o in objects:
        for text in o.statements:
            assert len(parse_sql(text)) == 1, text  # nothing smuggled in
    role = next(o for o in objects if o.kind == "role" and o.identity.startswith("w"))
    assert role.statements[0].startswith('CREATE ROLE "w$1" ')
    data = next(o for o in objects if o.kind == "data")
    assert data.statements[0] == 'DELETE FROM "script_tracking"."ddl_tracker_filter"'
    # read back as the preview reads them (it checks the tags on the server)
    dicts = objects_input(objects).values()
    assert rows_of(dicts, FILTER_TABLE) == [("exclude_schema", "x$y"), ("include_tag", "CREATE TABLE")]
    assert rows_of(dicts, LIMIT_TABLE) == [("retention_days", "30")]


def test_no_filter_rows_means_delete_only():
    data = next(o for o in desired_objects(Settings()) if o.kind == "data")
    assert len(data.statements) == 1 and data.statements[0].startswith("DELETE FROM")


# ---------------------------------------------------------------- normalization

@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir()))
def test_normalization_fixture(case):
    d = FIXTURES / case
    expected = (d / "expected").read_text().strip()
    assert expected in ("same", "different")
    before, after = normalize((d / "before.sql").read_text()), normalize((d / "after.sql").read_text())
    assert (before == after) is (expected == "same"), f"{case}:\n{before}\n{after}"


@pytest.mark.parametrize("identity", [i for _, i in EXPECTED])
def test_reformatting_any_object_of_sql_normalizes_equal(identity):
    """Layout, -- and /* */ comments (also inside PL/pgSQL bodies), keyword and
    identifier case, CREATE vs CREATE OR REPLACE: no change."""
    o = BY_ID[identity]
    variant = reformatted(o, body_comments=True)
    assert variant.statements != o.statements
    assert normalize(";\n".join(variant.statements)) == normalize(";\n".join(o.statements))


def test_the_rewriters_really_rewrite_function_bodies():
    body_of = lambda s: re.search(r"\$\$(.*)\$\$", s, re.S).group(1)  # noqa: E731
    text = BY_ID["script_tracking.track_operation(text, text, jsonb)"].statements[0]
    assert "begin" in body_of(flip_case(text)) and "BEGIN" in body_of(text)
    assert "\n\n\t" in body_of(respace(text))
    assert "-- a comment" in body_of(add_comments(text, into_bodies=True))
    assert "-- a comment" not in body_of(add_comments(text, into_bodies=False))


@pytest.mark.parametrize("identity", [i for k, i in EXPECTED if k == "function"])
def test_a_real_body_change_is_a_change(identity):
    o = BY_ID[identity]
    changed = with_statements(o, [changed_body(o.statements[0]), *o.statements[1:]])
    assert changed.statements[0] != o.statements[0]
    assert normalize(";\n".join(changed.statements)) != normalize(";\n".join(o.statements))


def test_a_comment_text_change_is_a_change():
    o = BY_ID["util.audit_log"]
    changed = with_statements(o, [o.statements[0], o.statements[1].replace("Append-only", "Append only"),
                                  *o.statements[2:]])
    assert normalize(";\n".join(changed.statements)) != normalize(";\n".join(o.statements))


# ---------------------------------------------------------------- what sqlsource refuses

def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "x.sql").write_text(text)
    return tmp_path


@pytest.mark.parametrize("text, message", [
    ("CREATE TABLE s.t (a integer);\nUPDATE s.t SET a = 1;", "unsupported statement UpdateStmt"),
    ("CREATE SCHEMA s;", "unsupported statement CreateSchemaStmt"),
    ("CREATE TABLE s.t (a integer);\nALTER TABLE s.t ADD COLUMN b integer;", "unsupported statement AlterTableStmt"),
    ("CREATE TABLE s.t (a integer);\nCOMMENT ON TABLE s.other IS 'x';", "undeclared object s.other"),
    ("COMMENT ON FUNCTION s.f(integer) IS 'x';\nCREATE FUNCTION s.f(a integer) RETURNS integer "
     "LANGUAGE sql AS $$ SELECT a $$;", "undeclared object s.f(integer)"),
    ("CREATE FUNCTION s.f(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT a $$;\n"
     "REVOKE ALL ON FUNCTION s.f(text) FROM PUBLIC;", "undeclared object s.f(text)"),
    ("CREATE TABLE s.t (a integer);\nREVOKE ALL ON ALL TABLES IN SCHEMA s FROM PUBLIC;", "undeclared object s"),
    ("CREATE TABLE s.t (a integer);\nCREATE TABLE s.t (b integer);", "table s.t is declared twice"),
    ("CREATE TABLE s.t (a integer);\nCREATE INDEX ON s.t (a);", "every index must be named"),
    ("CREATE TABLE s.t (a integer;", "x.sql: syntax error"),
])
def test_unsupported_sql_raises_sqlsource_error(tmp_path, text, message):
    with pytest.raises(SqlSourceError, match=re.escape(message)):
        load_objects(("x.sql",), _write(tmp_path, text))


def test_desired_objects_refuses_a_sql_dir_without_the_granted_functions(tmp_path):
    for f in OBJECT_FILES + TRIGGER_FILES:
        shutil.copy(SQL_DIR / f, tmp_path / f)
    text = (tmp_path / "20_tracking.sql").read_text()
    text = text.replace("public.complete_operation", "public.finish_operation")
    (tmp_path / "20_tracking.sql").write_text(text)
    with pytest.raises(ValueError, match="public.complete_operation"):
        desired_objects(Settings(sql_dir=tmp_path))
