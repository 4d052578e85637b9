"""Table migrations, migra style: each directory of tests/fixtures/sqlsource/table_plan
holds before.sql, after.sql, seed.sql and what must happen:

  expected.sql          the statements the plan runs (compared parser-normalized);
                        after the update the table holds the same rows, is the same
                        relation, and its catalog fingerprint equals that of a table
                        created from after.sql in an empty schema
  expected_error        PlanError at diff (preview) AND at update; nothing changed
  expected_apply_error  the plan is accepted but PostgreSQL refuses it; the update
                        raises ProviderError and the transaction leaves nothing behind
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from script_tracking import catalog
from script_tracking.db import ProviderError
from script_tracking.plan import PlanError, plan
from .support import ObjectProvider
from script_tracking.sqlsource import load_objects, normalize

from .support import CATALOG_OPTIONS, connection, props

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "sqlsource" / "table_plan"


def snapshot(pg, db: str) -> tuple:
    with psycopg.connect(pg.dsn(db), autocommit=True, options=CATALOG_OPTIONS) as c:
        fp = catalog.inspect(c, "table", "public.t", [])
        rows = c.execute("SELECT to_jsonb(t) FROM public.t t ORDER BY id").fetchall()
        oid = c.execute("SELECT 'public.t'::regclass::oid").fetchone()[0]
    return fp, rows, oid


def _normalized_lines(text: str) -> str:
    return normalize(text) if text.strip() else ""


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_table_plan(case, pg, new_db):
    d = CASES / case
    before = load_objects(("before.sql",), d)[0]
    after = load_objects(("after.sql",), d)[0]
    assert (before.kind, before.identity) == (after.kind, after.identity) == ("table", "public.t")
    db = new_db()
    conn = connection(pg, db)
    p = ObjectProvider()
    olds = p.create(props(before, conn)).outs
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute((d / "seed.sql").read_text())
    fp0, rows0, oid0 = snapshot(pg, db)
    news = props(after, conn)

    if (d / "expected_error").exists():
        message = (d / "expected_error").read_text().strip()
        with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
            p.diff("public.t", olds, news)
        with pytest.raises(PlanError) as exc:
            p.update("public.t", olds, news)
        assert message in str(exc.value) and "\n" not in str(exc.value)
        assert snapshot(pg, db) == (fp0, rows0, oid0)
        return

    if (d / "expected_apply_error").exists():
        message = (d / "expected_apply_error").read_text().strip()
        assert p.diff("public.t", olds, news).changes
        with pytest.raises(ProviderError) as exc:
            p.update("public.t", olds, news)
        assert not isinstance(exc.value, PlanError)
        assert message in str(exc.value) and "\n" not in str(exc.value)
        assert snapshot(pg, db) == (fp0, rows0, oid0)
        return

    expected = (d / "expected.sql").read_text()
    with psycopg.connect(pg.dsn(db), autocommit=True, options=CATALOG_OPTIONS) as c:
        live = catalog.inspect(c, "table", "public.t", list(before.statements))
        steps = plan(c, "table", "public.t", list(before.statements), list(after.statements), live)
        rendered = ";\n".join(s if isinstance(s, str) else s.as_string(c) for s in steps)
    assert _normalized_lines(rendered) == _normalized_lines(expected)
    assert p.diff("public.t", olds, news).changes is bool(expected.strip())

    outs = p.update("public.t", olds, news).outs
    fp, rows, oid = snapshot(pg, db)
    assert oid == oid0, "migrated in place, not re-created"
    assert [r[0]["id"] for r in rows] == [r[0]["id"] for r in rows0]
    for r, r0 in zip(rows, rows0):
        assert {k: v for k, v in r[0].items() if k in r0[0]} == {
            k: v for k, v in r0[0].items() if k in r[0]}, "existing values kept"
    assert outs["applied"] == outs["fingerprint"] == fp

    # the same table created from after.sql in an empty schema of the same database
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE SCHEMA fresh")
    fresh_stmts = [s.replace("public.t", "fresh.t").replace("PUBLIC.T", "fresh.t") for s in after.statements]
    fresh = p.create({**props(after, conn), "identity": "fresh.t", "statements": fresh_stmts}).outs["applied"]
    unqualified = lambda f: json.dumps(f).replace("fresh.t", "t").replace("public.t", "t")  # noqa: E731
    assert unqualified(fp) == unqualified(fresh), "the migrated table is the table after.sql creates"
    assert p.diff("public.t", outs, news).changes is False
    assert p.read("public.t", outs).outs["fingerprint"] == outs["applied"]
