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
    return conn.execute("SELECT coalesce(max(execution_id), 0) FROM script_tracking.script_execution_h").fetchone()[0]
