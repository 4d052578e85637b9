"""Helpers for the SQL suite (the shared fixtures are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


class Notices:
    """Collects NOTICE/WARNING messages sent to one connection."""

    def __init__(self, conn: psycopg.Connection):
        self.items: list[tuple[str, str | None, str]] = []  # (severity, sqlstate, message)
        conn.add_notice_handler(self._on)

    def _on(self, diag: psycopg.errors.Diagnostic) -> None:
        self.items.append((diag.severity_nonlocalized or diag.severity, diag.sqlstate, diag.message_primary))

    def warnings(self) -> list[str]:
        return [m for sev, _, m in self.items if sev == "WARNING"]

    def messages(self) -> list[str]:
        return [m for _, _, m in self.items]

    def clear(self) -> None:
        self.items.clear()


@pytest.fixture
def notices():
    return Notices


def counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    """(hub rows, satellite rows, audit rows)"""
    return conn.execute(
        "SELECT (SELECT count(*) FROM script_tracking.script_execution_h),"
        "       (SELECT count(*) FROM script_tracking.script_execution_s),"
        "       (SELECT count(*) FROM util.audit_log)"
    ).fetchone()


def ddl_rows(conn: psycopg.Connection, after_id: int = 0) -> list[tuple]:
    """(command_tag, object_type, object_identity) of tracked DDL, in order."""
    return conn.execute(
        "SELECT command_tag, object_type, object_identity FROM script_tracking.ddl_history"
        " WHERE execution_id > %s ORDER BY execution_id",
        (after_id,),
    ).fetchall()


def max_execution_id(conn: psycopg.Connection) -> int:
    """The highest execution_id so far, of the hub and of the DDL journal (one sequence numbers both)."""
    return conn.execute("SELECT coalesce(max(execution_id), 0) FROM"
                        " (SELECT max(execution_id) FROM script_tracking.script_execution_h"
                        "  UNION ALL SELECT max(execution_id) FROM script_tracking.ddl_journal) x(execution_id)"
                        ).fetchone()[0]


def legacy_ddl(conn: psycopg.Connection, tag: str, object_type: str, identity: str) -> int:
    """A DDL execution as releases before the DDL journal recorded it (a hub row and one
    COMPLETED satellite version, written by the event trigger functions), as an upgraded
    installation holds it; returns its execution_id."""
    drop = tag.startswith("DROP ")
    event = "sql_drop" if drop else "ddl_command_end"
    extra = ("'is_temporary', false, 'cascaded', '[]'::jsonb" if drop else "'in_extension', false")
    return conn.execute(f"""
        WITH k AS (
            SELECT nextval('script_tracking.script_execution_id_seq') AS id,
                   'AUTO_DDL_' || replace(%(tag)s::text, ' ', '_') AS name),
        hk AS (SELECT k.*, k.name || '#' || k.id AS bk,
                      sha256(convert_to(k.name || '#' || k.id || '#' || gen_random_uuid(), 'UTF8')) AS hk FROM k),
        h AS (INSERT INTO script_tracking.script_execution_h
                  (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date,
                   record_source)
              SELECT hk, bk, id, name, 'DDL', statement_timestamp(), 'event_trigger:{event}' FROM hk)
        INSERT INTO script_tracking.script_execution_s
            (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time, end_time,
             duration, db_session_user, client_addr, application_name, details)
        SELECT hk, clock_timestamp(), 'event_trigger:{event}', name, 'DDL', 'COMPLETED', statement_timestamp(),
               clock_timestamp(), clock_timestamp() - statement_timestamp(), session_user, inet_client_addr(),
               current_setting('application_name'),
               jsonb_build_object('event', '{event}', 'command_tag', %(tag)s::text, 'object_type', %(type)s::text,
                                  'object_identity', %(ident)s::text, 'schema_name', split_part(%(ident)s, '.', 1),
                                  {extra}, 'statement', %(tag)s::text || ' ' || %(ident)s::text)
          FROM hk
        RETURNING (SELECT id FROM hk)""", {"tag": tag, "type": object_type, "ident": identity}).fetchone()[0]
