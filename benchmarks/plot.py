"""Plot bench_compare results: full-load wall time and peak RSS per contender, the latency
speed-ups, throughput under a rate limit, and (with several result files) RSS vs assets.

    python benchmarks/plot.py benchmarks/results/compare-100000.json [more.json ...] \
        --out benchmarks/results/compare.png

With matplotlib (the `bench` extra) it writes a PNG; without it, a hand-written SVG of the two
full-load panels (same path, `.svg`). The machine and its load average are in the title.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine_line

MAIN = ("floor", "dlt", "dlt-parquet", "engine", "engine-nolimit", "cli")
COLORS = {
    "floor": "#777777",
    "dlt": "#d62728",
    "dlt-parquet": "#ff7f0e",
    "engine": "#1f77b4",
    "engine-nolimit": "#17becf",
    "cli": "#2ca02c",
}


def _full_rows(res: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = (res.get("compare") or {}).get("rows", {})
    return [(k, rows[k]) for k in MAIN if k in rows and "skipped" not in rows[k]]


def _title(res: dict[str, Any]) -> str:
    m = (res.get("compare") or {}).get("machine_before") or res["machine"]
    return f"{res['label']} - {machine_line(m)}"


def plot_png(results: list[dict[str, Any]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = results[0]
    # The latency and rate-limit panels come from the first result that has them (they may be
    # a run of their own, `--scenarios latency,ratelimit`).
    lat_res = next((r for r in results if r.get("latency")), None)
    rate_res = next((r for r in results if r.get("ratelimit")), None)
    panels = ["wall", "rss"]
    if lat_res is not None:
        panels.append("latency")
    if rate_res is not None:
        panels.append("rate")
    if sum(1 for r in results if r.get("compare")) > 1:
        panels.append("scale")
    cols = 2
    nrows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(nrows, cols, figsize=(13, 4.3 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    rows = _full_rows(res)
    n = (res.get("compare") or {}).get("assets", 0)
    for ax, what in zip(flat, panels, strict=False):
        if what == "wall":
            names = [k for k, _ in rows]
            walls = [r["wall_s"] for _, r in rows]
            works = [r.get("work_s") or 0 for _, r in rows]
            x = range(len(names))
            ax.bar(x, walls, color=[COLORS[k] for k in names], alpha=0.45, label="process wall")
            ax.bar(x, works, color=[COLORS[k] for k in names], label="work (no start-up)")
            for i, w in enumerate(walls):
                ax.text(i, w, f"{w:.1f}s", ha="center", va="bottom", fontsize=8)
            ax.set_xticks(list(x), names, rotation=20)
            ax.set_yscale("log")
            ax.set_ylabel("seconds (log)")
            ax.set_title(f"full load of {n:,} assets: time")
            ax.legend(fontsize=8)
        elif what == "rss":
            names = [k for k, _ in rows]
            rss = [r["peak_rss_mb"] for _, r in rows]
            ax.bar(range(len(names)), rss, color=[COLORS[k] for k in names])
            for i, v in enumerate(rss):
                ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
            ax.axhline(300, color="black", lw=0.8, ls="--", label="target 300 MB")
            ax.set_xticks(list(range(len(names))), names, rotation=20)
            ax.set_yscale("log")
            ax.set_ylabel("peak RSS, MB (log)")
            ax.set_title(f"full load of {n:,} assets: peak RSS of the process")
            ax.legend(fontsize=8)
        elif what == "latency" and lat_res is not None:
            lat = lat_res["latency"]
            lrows = lat["rows"]
            seq = next(iter(lrows.values()))["work_s"]
            labels = list(lrows)
            sp = [seq / lrows[k]["work_s"] for k in labels]
            ax.barh(range(len(labels)), sp, color="#1f77b4")
            ax.axvline(6, color="black", lw=0.8, ls="--", label="target 6x")
            ax.set_yticks(list(range(len(labels))), labels, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel("speed-up vs one sequential stream")
            ax.set_title(f"{lat['latency_ms']:g} ms latency, {lat['assets']:,} assets")
            ax.legend(fontsize=8)
        elif what == "rate" and rate_res is not None:
            rl = rate_res["ratelimit"]["rows"]
            rs = [v["rate"] for v in rl.values()]
            ok = [v["ok_rps"] or 0 for v in rl.values()]
            top = max(rs) * 1.1
            ax.plot([0, top], [0, top], color="black", lw=0.8, label="R")
            ax.plot([0, top], [0, 0.9 * top], color="black", lw=0.8, ls="--", label="0.9 R")
            ax.plot(rs, ok, "o-", color="#1f77b4", label="assets-sync ok req/s")
            for r, v, row in zip(rs, ok, rl.values(), strict=True):
                ax.annotate(f"429: {row['share_429'] * 100:.0f}%", (r, v), fontsize=8,
                            textcoords="offset points", xytext=(4, -10))  # fmt: skip
            ax.set_xlabel("emulator rate limit R, req/s")
            ax.set_ylabel("successful requests/s")
            ax.set_title("throughput under a rate limit")
            ax.legend(fontsize=8)
        elif what == "scale":
            for who in ("floor", "engine", "engine-nolimit", "cli"):
                pts = sorted(
                    (r["compare"]["assets"], r["compare"]["rows"][who]["peak_rss_mb"])
                    for r in results
                    if r.get("compare") and who in r["compare"]["rows"]
                    and "skipped" not in r["compare"]["rows"][who]
                )  # fmt: skip
                if pts:
                    ax.plot(*zip(*pts, strict=True), "o-", color=COLORS[who], label=who)
            ax.axhline(300, color="black", lw=0.8, ls="--", label="target 300 MB")
            ax.set_xscale("log")
            ax.set_xlabel("assets")
            ax.set_ylabel("peak RSS, MB")
            loads = ", ".join(
                f"{r['compare']['assets']:,}: load "
                f"{r['compare']['machine_before']['load_avg_1_5_15'][0]:.1f}"
                for r in results
                if r.get("compare")
            )
            ax.set_title(f"peak RSS vs number of assets (separate runs; {loads})", fontsize=9)
            ax.legend(fontsize=8)
    for ax in flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(_title(res), fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def plot_svg(results: list[dict[str, Any]], out: Path) -> Path:
    """Two bar panels (wall s, peak RSS MB) drawn by hand: no dependency at all."""
    res = results[0]
    rows = _full_rows(res)
    w, h, pad = 900, 380, 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="10" y="18">{_title(res)}</text>']  # fmt: skip
    for p, (key, unit) in enumerate((("wall_s", "process wall s"), ("peak_rss_mb", "peak RSS MB"))):
        x0 = pad + p * (w // 2)
        top = max((r[key] for _, r in rows), default=1) or 1
        bw = (w // 2 - 2 * pad) / max(1, len(rows))
        parts.append(f'<text x="{x0}" y="40">{unit}</text>')
        for i, (name, r) in enumerate(rows):
            bh = (h - 120) * r[key] / top
            x, y = x0 + i * bw, h - 60 - bh
            parts.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{bw * 0.8:.0f}" '
                         f'height="{bh:.0f}" fill="{COLORS[name]}"/>')  # fmt: skip
            parts.append(f'<text x="{x:.0f}" y="{y - 3:.0f}">{r[key]:.1f}</text>')
            parts.append(f'<text x="{x:.0f}" y="{h - 45}" transform="rotate(20 {x:.0f} '
                         f'{h - 45})">{name}</text>')  # fmt: skip
    parts.append("</svg>")
    out = out.with_suffix(".svg")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("results", nargs="+", help="bench_compare JSON files (first: main panels)")
    p.add_argument("--out", default=None, help="PNG path (default: beside the first JSON)")
    p.add_argument("--svg", action="store_true", help="hand-written SVG even with matplotlib")
    args = p.parse_args()
    results = [json.loads(Path(f).read_text()) for f in args.results]
    out = Path(args.out) if args.out else Path(args.results[0]).with_suffix(".png")
    try:
        if args.svg:
            raise ImportError
        path = plot_png(results, out)
    except ImportError:
        path = plot_svg(results, out)
    print(path)


if __name__ == "__main__":
    main()
