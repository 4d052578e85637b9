"""`python -m bench` still works: every benchmark at a tiny size (never skipped)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.conftest import REPO


def test_bench_smoke(tmp_path):
    out = tmp_path / "results"
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out),
         "--seconds", "1", "--clients", "1,8",
         "--ddl-statements", "200", "--ddl-reps", "1",
         "--history-sizes", "1000", "--history-calls", "20",
         "--deploy-reps", "1", "--fleet-sizes", "1,2"],
        cwd=REPO, capture_output=True, text=True, timeout=180)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    data = json.loads((out / "latest.json").read_text())
    assert set(data["rows"]) == {"throughput", "ddl", "history", "deploy", "fleet"}
    assert (out / "latest.png").stat().st_size > 0
    for row in data["rows"]["throughput"]:
        assert row["extra"]["tracked"]["errors"] == 0 and row["value"] > 0
    ddl = data["rows"]["ddl"][0]
    assert ddl["extra"]["statements"] >= 200 and ddl["value"] > 0 and ddl["baseline"] > 0
    assert data["rows"]["history"][0]["value"] > 0
    assert data["rows"]["deploy"][0]["value"] > 0
    for row in data["rows"]["fleet"]:
        assert row["value"] > 0 and row["baseline"] > 0 and set(row["extra"]["seconds"]) == {"1", "2"}
        # per resource of an installation (its objects, owner, writer and reader roles): one to
        # plan at check, one to apply, at most
        assert all(0 <= v <= 8 for v in row["extra"]["sessions_per_database"].values()), row
    for col in ("figure", "value", "baseline", "ratio", "target", "met?"):
        assert col in r.stdout
    assert elapsed < 90, f"smoke run took {elapsed:.0f} s"
