"""The table on stdout, the JSON and the PNG plot under bench/results/."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .common import RESULTS, Row


def fmt(x, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        s = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"
    else:
        s = str(x)
    return f"{s} {unit}".strip()


def table(rows: list[Row]) -> str:
    head = ("figure", "value", "baseline", "ratio", "target", "met?")
    lines = [(r.figure, fmt(r.value, r.unit), fmt(r.baseline, r.unit if r.baseline is not None else ""),
              fmt(r.ratio) if r.ratio is not None else "-", r.target,
              "-" if r.met is None else ("yes" if r.met else "NO")) for r in rows]
    w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    out = [" | ".join(h.ljust(w[i]) for i, h in enumerate(head)), "-+-".join("-" * x for x in w)]
    out += [" | ".join(c.ljust(w[i]) for i, c in enumerate(l)) for l in lines]
    return "\n".join(out)


def write(results: dict, out_dir: Path = RESULTS) -> tuple[Path, Path | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    jpath = out_dir / f"bench-{stamp}.json"
    payload = dict(results)
    payload["rows"] = {k: [r.as_dict() for r in v] for k, v in results["rows"].items()}
    jpath.write_text(json.dumps(payload, indent=2, default=str))
    (out_dir / "latest.json").write_text(jpath.read_text())
    ppath = plot(results["rows"], out_dir / f"bench-{stamp}.png")
    if ppath:
        (out_dir / "latest.png").write_bytes(ppath.read_bytes())
    return jpath, ppath


def plot(rows: dict[str, list[Row]], path: Path) -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [k for k in ("throughput", "ddl", "history", "deploy", "fleet") if rows.get(k)]
    if any("runs" in r.extra for r in rows.get("history", ())):
        panels.insert(panels.index("history") + 1, "history-tracking")
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, k in zip(axes[0], panels):
        rs = rows.get(k, [])
        if k == "throughput":
            cl = [r.extra["clients"] for r in rs]
            ax.plot(cl, [r.value for r in rs], "o-", label="track + complete")
            ax.plot(cl, [r.baseline for r in rs], "s--", label="baseline: plain INSERTs")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("clients")
            ax.set_ylabel("executions/s")
            ax.set_title("Tracking throughput")
        elif k == "ddl":
            r = rs[0]
            ax.boxplot([r.extra["off_s"], r.extra["on_s"]], tick_labels=["triggers off", "triggers on"])
            ax.set_ylabel(f"seconds for {r.extra['statements']} DDL statements")
            ax.set_title(f"DDL overhead (median ratio {r.ratio:.2f})")
        elif k == "history":
            for r in rs:
                if "by_size" not in r.extra:
                    continue
                sizes = [int(s) for s in r.extra["by_size"]]
                base = r.extra["query"].startswith("baseline")
                ax.plot(sizes, [v["p95_ms"] for v in r.extra["by_size"].values()], "s--" if base else "o-",
                        lw=0.8, ms=3, label=r.extra["query"])
            ax.axhline(2.0, color="red", lw=0.8, ls=":", label="target 2 ms")
            ax.set_xscale("log")
            ax.set_xlabel("tracked executions")
            ax.set_ylabel("p95 latency (ms)")
            ax.set_title("get_execution_history, every filter")
        elif k == "history-tracking":
            rs = [r for r in rows["history"] if "runs" in r.extra]
            x = range(len(rs))
            ax.bar([i - 0.2 for i in x], [r.value for r in rs], 0.4, label="tracked, at the largest size")
            ax.bar([i + 0.2 for i in x], [r.baseline for r in rs], 0.4, label="baseline (empty install / INSERTs)")
            ax.set_xticks(list(x), [f"{r.extra['clients']} clients\n{r.ratio:.2f}x" for r in rs])
            ax.set_ylabel("executions/s")
            ax.set_title("Tracking at the largest size")
        elif k == "deploy":
            rs = [r for r in rs if r.baseline is not None]
            x = range(len(rs))
            ax.bar([i - 0.27 for i in x], [r.value for r in rs], 0.27, label="script-tracking program")
            ax.bar(list(x), [r.baseline for r in rs], 0.27, label="empty Pulumi program")
            ax.bar([i + 0.27 for i in x], [r.extra.get("psql_s") or 0 for r in rs], 0.27, label="psql -f")
            ax.set_xticks(list(x), [r.figure.replace("pulumi ", "").split(",")[0].split(" from")[0] for r in rs])
            ax.set_ylabel("seconds")
            ax.set_title("Deployment wall time")
        elif k == "fleet":
            for r in rs:
                sizes = [int(n) for n in r.extra["seconds"]]
                ax.plot(sizes, [r.extra["seconds"][str(n)] / r.baseline for n in sizes], "o-",
                        label=r.figure.split(" at ")[0].replace("fleet ", ""))
            top = max(int(n) for n in rs[0].extra["seconds"])
            ax.plot([1, top], [1, top], color="grey", lw=0.8, ls=":", label="linear in databases")
            ax.set_xlabel("databases in the stack")
            ax.set_ylabel("time / time for one database")
            ax.set_title("Fleet rollout")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=5 if k == "history" else 7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def replot(results_json: Path, out: Path) -> Path | None:
    """The plot of a results file again, in the format out's suffix names (.svg for docs/)."""
    import matplotlib
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: a small, diffable file
    data = json.loads(results_json.read_text())
    rows = {k: [Row(**r) for r in v] for k, v in data["rows"].items()}
    return plot(rows, out)


if __name__ == "__main__":
    import sys
    # python -m bench.report bench/results/latest.json docs/benchmarks-history.svg
    replot(Path(sys.argv[1]), Path(sys.argv[2]))
