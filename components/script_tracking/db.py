"""Connections and all-or-nothing apply transactions for the provider.

Every apply step runs in one transaction that first takes a database-wide
advisory lock (so two applies against the same database never interleave) and
is bounded by lock_timeout and statement_timeout (so it never hangs behind a
user's long lock). Roles belong to the whole server, so a step that changes
roles also locks pg_authid (as a superuser), which serializes it with every
role change made from any database of the server. Errors become one line that names the SQLSTATE.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import psycopg
from psycopg import sql

# pg_advisory_xact_lock key shared by every apply of this project: the first 8
# bytes of sha256('script-tracking'), fixed so that every version agrees.
APPLY_LOCK_KEY = 0x5CB1_7A2E_53D4_0B61 - (1 << 63)


class ProviderError(Exception):
    """An error meant for the user: one line, no traceback needed."""


class TransientError(ProviderError):
    """The server did not answer, is starting or stopping, or went away mid-way:
    another try may work (the provider retries with a bounded backoff)."""


# SQLSTATEs of a server going away or not up yet, and how libpq says it before any SQLSTATE
TRANSIENT_STATES = {"57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}
TRANSIENT_WORDS = ("connection refused", "server closed the connection", "terminating connection",
                   "the database system is starting up", "the database system is shutting down",
                   "the database system is in recovery mode", "connection reset", "timeout expired",
                   "consuming input failed", "no connection to the server", "the connection is closed")


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    sslmode: str = "prefer"
    lock_timeout_ms: int = 5000
    statement_timeout_ms: int = 60000

    @classmethod
    def from_props(cls, props: Mapping[str, Any], config: Any = None) -> "Connection":
        """The connection an installation recorded; with the stack's config (the
        dynamic provider's), the password is the one now set under `passwordConfig`,
        so that refresh and destroy follow a rotated password."""
        c = dict(props)
        current = config_value(config, c["passwordConfig"]) if config is not None and c.get("passwordConfig") else None
        try:
            return cls(
                host=str(c["host"]), port=int(c["port"]), database=str(c["database"]),
                username=str(c["username"]), password=str(current or c.get("password") or ""),
                sslmode=str(c.get("sslmode") or "prefer"),
                lock_timeout_ms=int(c.get("lockTimeoutMs") or 5000),
                statement_timeout_ms=int(c.get("statementTimeoutMs") or 60000),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"invalid connection settings: {exc}") from None

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}/{self.database}"


def config_value(config: Any, key: str) -> Any:
    """A stack config value by key, where the key may be a path into a structured
    value ("script-tracking:servers.main.password"); None when it is not set."""
    top, _, path = key.partition(".")
    value = config.get(top)
    for part in path.split(".") if path else ():
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        value = value.get(part) if isinstance(value, dict) else None
    return value


# what to do about an error: (SQLSTATE, words of its message, the hint)
HINTS = (
    ("42501", "event trigger", "event triggers need a superuser: connect as one, or set trackDdl false"),
    # dropping a role starts by granting it to the login (see kinds.Role.drop)
    ("42501", "permission denied to grant role",
     "from PostgreSQL 16 on, a login that is not a superuser may grant or drop only a role it has ADMIN OPTION on, "
     "as on those it made: connect as a superuser, or as the login that made the role"),
)


def describe(exc: BaseException, conn: Connection | None = None) -> str:
    """One line for any database error: SQLSTATE and the server's message."""
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        primary = (exc.diag.message_primary if exc.diag else None) or str(exc).strip().splitlines()[0]
        if not state and conn is not None:  # could not connect, or the connection broke
            # libpq's message spans lines ("...failed: Connection refused / Is the server
            # running..."): all of it, on one line
            text = " ".join(str(exc).split()) or "connection failed"
            return f"cannot connect to PostgreSQL as {conn.where}: {text}"
        hint = next((f" ({text})" for s, words, text in HINTS if s == state and words in primary), "")
        # a privilege is the login's: named with it
        where = f"{conn.where}: " if conn is not None and (state in TRANSIENT_STATES or state == "42501") else ""
        return f"{where}SQLSTATE {state}: {primary}{hint}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def error(exc: BaseException, conn: Connection | None = None) -> ProviderError:
    """The ProviderError for a database error: a TransientError when another try may work."""
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    transient = isinstance(exc, psycopg.OperationalError) and (
        state in TRANSIENT_STATES or (not state and any(w in text for w in TRANSIENT_WORDS)))
    return (TransientError if transient else ProviderError)(describe(exc, conn))


def connect(conn: Connection) -> psycopg.Connection:
    try:
        return psycopg.connect(
            host=conn.host, port=conn.port, dbname=conn.database, user=conn.username,
            password=conn.password, sslmode=conn.sslmode, connect_timeout=10,
            application_name="script-tracking-provider", autocommit=True,
            # catalog text (regprocedure, pg_get_*def) must not depend on a role's search_path
            options="-c search_path=pg_catalog",
        )
    except psycopg.Error as exc:
        raise error(exc, conn) from None


@contextmanager
def session(conn: Connection) -> Iterator[psycopg.Connection]:
    """A connection for reading the catalog (read, diff)."""
    pg = connect(conn)
    try:
        yield pg
    except psycopg.Error as exc:
        raise error(exc, conn) from None
    finally:
        pg.close()


@contextmanager
def apply_transaction(conn: Connection, roles: bool = False, rehearsal: bool = False) -> Iterator[psycopg.Connection]:
    """One serialized, bounded, all-or-nothing transaction; `roles`: it changes roles;
    `rehearsal`: it is rolled back at the end (a plan tried at preview, under the same locks)."""
    pg = connect(conn)
    try:
        with pg.transaction():
            pg.execute(sql.SQL("SELECT set_config('lock_timeout', {}, true), "
                               "set_config('statement_timeout', {}, true)").format(
                sql.Literal(f"{conn.lock_timeout_ms}ms"), sql.Literal(f"{conn.statement_timeout_ms}ms")))
            try:
                pg.execute("SELECT pg_advisory_xact_lock(%s)", (APPLY_LOCK_KEY,))
            except psycopg.errors.LockNotAvailable:
                raise ProviderError(
                    f"another apply holds the script-tracking lock on {conn.where}; "
                    f"waited {conn.lock_timeout_ms} ms (lock_timeout)") from None
            # a shared catalog's lock is server-wide (logins only read pg_authid); taking
            # it needs a superuser, so a CREATEROLE user's role changes are serialized per
            # database only
            if roles and pg.execute("SELECT pg_catalog.current_setting('is_superuser')").fetchone()[0] == "on":
                try:
                    pg.execute("LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE")
                except psycopg.errors.LockNotAvailable:
                    raise ProviderError(
                        f"another role change on the server of {conn.where} holds pg_authid; "
                        f"waited {conn.lock_timeout_ms} ms (lock_timeout)") from None
            yield pg
            if rehearsal:
                raise psycopg.Rollback()
    except psycopg.Error as exc:
        raise error(exc, conn) from None
    finally:
        pg.close()
