"""Serialization: every apply takes the project's transaction-level advisory lock
(script_tracking.db.APPLY_LOCK_KEY) first, waits for it at most lockTimeoutMs, and two
applies against one database never interleave."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from script_tracking.db import APPLY_LOCK_KEY, ProviderError
from .support import ObjectProvider

from .support import connection

WAITING = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = "
           "'script-tracking-provider' AND wait_event_type = 'Lock' AND wait_event = 'advisory'")


def _fn(name: str, *extra: str) -> list[str]:
    return [f"CREATE FUNCTION public.{name}() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$", *extra]


def _exists(pg, db, sig: str) -> bool:
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        return c.execute("SELECT to_regprocedure(%s) IS NOT NULL", (sig,)).fetchone()[0]


def _wait_for(pg, db, query: str, expected, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        while time.monotonic() < deadline:
            if c.execute(query, (db,)).fetchone()[0] == expected:
                return
            time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {query!r} == {expected!r}")


def _hold_lock(pg, db) -> psycopg.Connection:
    holder = psycopg.connect(pg.dsn(db))
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (APPLY_LOCK_KEY,))
    return holder


def test_apply_gives_up_after_lock_timeout_with_a_clear_error(pg, db):
    p = ObjectProvider()
    conn = connection(pg, db, lockTimeoutMs=300)
    holder = _hold_lock(pg, db)
    try:
        t0 = time.monotonic()
        with pytest.raises(ProviderError) as exc:
            p.create({"kind": "function", "identity": "public.f()", "statements": _fn("f"), "connection": conn})
        waited = time.monotonic() - t0
    finally:
        holder.rollback()
        holder.close()
    msg = str(exc.value)
    assert msg == (f"another apply holds the script-tracking lock on postgres@127.0.0.1:{pg.port}/{db}; "
                   "waited 300 ms (lock_timeout)")
    assert 0.25 <= waited < 5
    assert not _exists(pg, db, "public.f()")


def test_apply_waits_for_the_lock_and_proceeds_when_released(pg, db):
    p = ObjectProvider()
    conn = connection(pg, db)  # default lockTimeoutMs: 5 s
    holder = _hold_lock(pg, db)
    result: dict = {}

    def apply():
        try:
            result["outs"] = p.create({"kind": "function", "identity": "public.f()", "statements": _fn("f"),
                                       "connection": conn}).outs
        except Exception as exc:  # reported below
            result["error"] = exc

    t = threading.Thread(target=apply)
    try:
        t.start()
        _wait_for(pg, db, WAITING, 1)  # the apply is blocked on the advisory lock ...
        time.sleep(0.2)
        assert t.is_alive() and not _exists(pg, db, "public.f()")  # ... and has done nothing yet
    finally:
        holder.rollback()  # release (transaction-level lock)
        holder.close()
    t.join(10)
    assert not t.is_alive()
    assert "error" not in result, result.get("error")
    assert result["outs"]["applied"] is not None and _exists(pg, db, "public.f()")


def test_two_parallel_applies_both_succeed_one_after_the_other(pg, db):
    p = ObjectProvider()
    conn = connection(pg, db)
    hold = 0.6
    observed = {"waiting": 0, "granted_max": 0}
    done = threading.Event()
    hi, lo = (APPLY_LOCK_KEY >> 32) & 0xFFFFFFFF, APPLY_LOCK_KEY & 0xFFFFFFFF

    def watch():
        with psycopg.connect(pg.dsn(db), autocommit=True) as c:
            while not done.is_set():
                granted, waiting = c.execute(
                    "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 1 "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = %s)", (hi, lo, db)).fetchone()
                observed["granted_max"] = max(observed["granted_max"], granted)
                observed["waiting"] = max(observed["waiting"], waiting)
                time.sleep(0.02)

    def apply(name: str):
        t0 = time.monotonic()
        # the sleep runs inside the apply transaction, while the lock is held
        outs = p.create({"kind": "function", "identity": f"public.{name}()", "connection": conn,
                         "statements": _fn(name, f"SELECT pg_sleep({hold})")}).outs
        return t0, time.monotonic(), outs

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(2) as pool:
            t_start = time.monotonic()
            a, b = pool.map(apply, ["f1", "f2"])
            elapsed = time.monotonic() - t_start
    finally:
        done.set()
        watcher.join()
    assert a[2]["applied"] and b[2]["applied"]
    assert _exists(pg, db, "public.f1()") and _exists(pg, db, "public.f2()")
    assert elapsed >= 2 * hold, f"the applies overlapped: {elapsed:.2f}s < {2 * hold}s"
    first, second = sorted([a, b], key=lambda r: r[1])
    assert second[1] - first[1] >= hold * 0.9, "the second finished a full hold after the first"
    assert observed["granted_max"] == 1, "never two holders of the apply lock"
    assert observed["waiting"] == 1, "the second apply was seen waiting for the lock"
