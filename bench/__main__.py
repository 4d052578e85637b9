"""python -m bench [--quick] [--size quick|large] [--only throughput,ddl,history,deploy,fleet]

Starts a throwaway PostgreSQL cluster, runs the chosen benchmarks (each against a
baseline measured in the same run), prints the table and writes bench/results/.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import ddl, deploy, fleet, history, report, throughput
from .common import RESULTS, Bench, machine_info

ALL = ("throughput", "ddl", "history", "deploy", "fleet")
MODULES = {"throughput": throughput, "ddl": ddl, "history": history, "deploy": deploy, "fleet": fleet}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and ~1 s per point (a smoke run)")
    p.add_argument("--only", default=",".join(ALL), help="comma-separated subset of " + ",".join(ALL))
    p.add_argument("--out", default=str(RESULTS), help="results directory (default bench/results)")
    # sizes, for the smoke test and for experiments
    p.add_argument("--seconds", type=int, help="throughput: seconds per point")
    p.add_argument("--clients", help="throughput: comma-separated client counts (default 1,8,32,64)")
    p.add_argument("--ddl-statements", type=int, help="DDL: statements per run")
    p.add_argument("--ddl-reps", type=int, help="DDL: runs per mode")
    p.add_argument("--history-sizes", help="history: comma-separated sizes (default 10000,100000,1000000)")
    p.add_argument("--history-calls", type=int, help="history: calls per query and size")
    p.add_argument("--size", choices=("quick", "large"), default="quick",
                   help="history: load up to 10^5 executions (quick) or 10^7 (large, about 10 minutes)")
    p.add_argument("--deploy-reps", type=int, help="deploy: repetitions")
    p.add_argument("--fleet-sizes", help="fleet: comma-separated database counts (default 1,10,50)")
    a = p.parse_args(argv)
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    bad = [x for x in only if x not in ALL]
    if bad:
        p.error(f"unknown benchmark(s): {', '.join(bad)}")
    kwargs = {
        "throughput": {"seconds": a.seconds,
                       **({"clients": tuple(int(x) for x in a.clients.split(","))} if a.clients else {})},
        "ddl": {"statements": a.ddl_statements, "reps": a.ddl_reps},
        "history": {"sizes": tuple(int(x) for x in a.history_sizes.split(",")) if a.history_sizes else None,
                    "calls": a.history_calls, "size": a.size, "seconds": a.seconds},
        "deploy": {"reps": a.deploy_reps},
        "fleet": {"sizes": tuple(int(x) for x in a.fleet_sizes.split(",")) if a.fleet_sizes else None},
    }

    def log(msg: str) -> None:
        print(msg, flush=True)

    started = time.time()
    rows: dict[str, list] = {}
    with Bench() as b:
        info = machine_info(b)
        log(f"machine: {info['nproc']} cores ({info['cpu_model']}), {info['mem_gib']} GiB; {info['postgresql']}")
        timings = {}
        for name in ALL:
            if name not in only:
                continue
            log(f"== {name}")
            t0 = time.perf_counter()
            rows[name] = MODULES[name].run(b, quick=a.quick, log=log, **kwargs[name])
            timings[name] = time.perf_counter() - t0
    flat = [r for name in ALL for r in rows.get(name, [])]
    print()
    print(report.table(flat))
    from pathlib import Path
    jpath, ppath = report.write({"started": started, "quick": a.quick, "size": a.size, "machine": info,
                                 "seconds_per_benchmark": timings, "rows": rows}, Path(a.out))
    print(f"\nresults: {jpath}" + (f", {ppath}" if ppath else ""))
    missed = [r.figure for r in flat if r.met is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
