"""Upgrade scenarios, migra style: each directory of tests/fixtures/upgrades holds

  before.sql   the objects installed first (by the provider; with a file `adopt`: by
               plain SQL, as psql -f would, and then adopted)
  seed.sql     rows put in before the upgrade (optional)
  after.sql    the objects wanted
  expected     the plan preview shows, one line per object ("<action> <key>") and, for
               an alter, its statements indented; or "refused: <text of the one-line
               reason>"

For each, against a real server: the plan made at preview (check) is `expected`;
`up` (update) does it, or refuses exactly as preview did with nothing changed; after
it, every object's catalog fingerprint equals that of a fresh install of after.sql
(upgrade = fresh install), the rows are unchanged, and a second preview plans nothing.
ST_REGENERATE=1 writes `expected` from what the plan is (review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from script_tracking import catalog
from script_tracking.db import ProviderError
from script_tracking.provider import ObjectSetProvider
from script_tracking.sqlsource import load_objects, normalize

from .support import CATALOG_OPTIONS, connection

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "upgrades"
ROLE = "st_fixture_reader"  # the role the scenarios grant to


def _objects(path: Path) -> dict[str, dict]:
    return {o.key: {"kind": o.kind, "identity": o.identity, "statements": list(o.statements),
                    "dependsOn": list(o.depends_on)} for o in load_objects((path.name,), path.parent)}


def _fingerprints(pg, db: str, objects: dict[str, dict]) -> dict[str, object]:
    with psycopg.connect(pg.dsn(db), autocommit=True, options=CATALOG_OPTIONS) as c:
        return {k: catalog.inspect(c, o["kind"], o["identity"], o["statements"]) for k, o in objects.items()}


def _rows(pg, db: str) -> dict[str, list]:
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        tables = [r[0] for r in c.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1")]
        return {t: [r[0] for r in c.execute(f"SELECT to_jsonb(t) FROM {t} t ORDER BY 1")] for t in tables}


def _render(plan: dict[str, dict]) -> str:
    lines = []
    for key, entry in plan.items():
        lines.append(f"{entry['action']} {key}")
        if entry["action"] == "alter":
            lines += [f"  {normalize(s)}" for s in entry["steps"]]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def fixture_role(pg):
    with psycopg.connect(pg.dsn("postgres"), autocommit=True) as c:
        if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            c.execute(f"CREATE ROLE {ROLE} NOLOGIN")


def test_there_are_enough_scenarios():
    assert len(list(CASES.iterdir())) >= 30


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_upgrade_scenario(case, pg, new_db):
    d = CASES / case
    before, after = _objects(d / "before.sql"), _objects(d / "after.sql")
    db = new_db()
    conn = connection(pg, db)
    p = ObjectSetProvider()
    if (d / "adopt").exists():  # an install made by hand (psql): the stack adopts it
        with psycopg.connect(pg.dsn(db), autocommit=True) as c:
            c.execute((d / "before.sql").read_text())
        olds_in, olds = {}, None
    else:
        olds_in = {"objects": before, "connection": conn, "preflight": False}
        olds = p.create(olds_in).outs
    if (d / "seed.sql").exists():
        with psycopg.connect(pg.dsn(db), autocommit=True) as c:
            c.execute((d / "seed.sql").read_text())
    fp0, rows0 = _fingerprints(pg, db, before), _rows(pg, db)

    news = {"objects": after, "connection": conn, "preflight": False}
    checked = p.check(olds_in, news)
    expected = (d / "expected").read_text() if (d / "expected").exists() else None
    if checked.failures:
        got = f"refused: {checked.failures[0].reason}\n"
    else:
        got = _render(checked.inputs["plan"])
    if os.environ.get("ST_REGENERATE"):
        (d / "expected").write_text(got)
        expected = got
    if expected.startswith("refused: "):
        assert got.startswith("refused: ") and expected[9:].strip() in got, got
        with pytest.raises(ProviderError) as exc:
            p.update("x", olds, news) if olds else p.create(news)
        assert expected[9:].strip() in str(exc.value) and "\n" not in str(exc.value)
        assert (_fingerprints(pg, db, before), _rows(pg, db)) == (fp0, rows0), "nothing changed"
        return
    assert got == expected
    if olds is not None:
        assert p.diff("x", olds, checked.inputs).changes is bool(checked.inputs["plan"])
    outs = (p.update("x", olds, checked.inputs) if olds else p.create(checked.inputs)).outs

    fresh_db = new_db()
    fresh = {"objects": after, "connection": connection(pg, fresh_db), "preflight": False}
    p.create(p.check({}, fresh).inputs)
    upgraded, installed = _fingerprints(pg, db, after), _fingerprints(pg, fresh_db, after)
    assert {k: catalog.same(after[k]["kind"], upgraded[k], installed[k]) for k in after} == \
        {k: True for k in after}, "upgrade = fresh install"
    rows = _rows(pg, db)
    for table, before_rows in rows0.items():
        kept = [{k: v for k, v in r.items() if k in before_rows[0]} for r in rows.get(table, [])] if before_rows else []
        assert kept == [{k: v for k, v in r.items() if k in (rows[table][0] if rows.get(table) else r)}
                        for r in before_rows], f"rows of {table} kept"
    again = p.check({"objects": after, "connection": conn, "preflight": False}, news)
    assert again.failures == [] and again.inputs["plan"] == {}, "a second preview plans nothing"
    assert p.diff("x", outs, again.inputs).changes is False
