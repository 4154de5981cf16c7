"""The report's HTML: one self-contained page (inline CSS and SVG, no script, no external URL).

`render()` takes the figures of `warehouse.analytics` and returns the page. All text from the
warehouse (types, model ids, stream ids, error messages, reasons) is escaped by `esc()` or by the
chart functions; nothing from the data is ever placed in markup unescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pipelines.charts import (
    GREY,
    OUTCOME_COLORS,
    PALETTE,
    Series,
    columns,
    esc,
    fmt_int,
    hbars,
    legend,
    line,
    stacked_bars,
)
from warehouse.analytics import (
    OTHER,
    CreationSeries,
    DayCount,
    DepthCount,
    FunnelStage,
    ModelCount,
    NamedCount,
    Overview,
    RunPoint,
)

CATEGORY_HELP = {
    "upload": "type uploaded* (or source upload*): files people brought in",
    "generation": "made by a model: model or inference id set, or type inference-*",
    "edit": "derived from a parent by a tool without a model: upscale, background removal…",
    "other": "none of these: canvas, unknown… without a parent",
}


@dataclass(frozen=True)
class ReportData:
    warehouse: str
    generated_at: datetime
    overview: Overview
    creations: CreationSeries
    models: list[ModelCount]
    depths: list[DepthCount]
    funnel: list[FunnelStage]
    runs: list[RunPoint]
    deletions: list[DayCount]
    changes: list[NamedCount]
    rejects: list[NamedCount]


CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: #1f2933;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: #15202b; color: #f4f6f8; padding: 22px 32px 18px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .meta { color: #aab6c2; font-size: 13px; word-break: break-all; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 40px; }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr));
  gap: 12px; margin-bottom: 20px; }
.total { background: #fff; border-radius: 8px; padding: 12px 14px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, .08); }
.total b { display: block; font-size: 22px; font-weight: 600; }
.total span { color: #5b6570; font-size: 12px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.card { background: #fff; border-radius: 8px; padding: 16px 18px 12px; margin-bottom: 16px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, .08); min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { font-size: 15px; margin: 0 0 2px; font-weight: 600; }
.card p.sub { margin: 0 0 10px; color: #5b6570; font-size: 12.5px; }
.empty { color: #5b6570; font-style: italic; padding: 18px 0; }
.notice { background: #fff8e6; border: 1px solid #f0d48a; border-radius: 8px;
  padding: 12px 16px; margin-bottom: 16px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin: 6px 0 0; }
.legend .key i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin-top: 8px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef1f4; }
th { color: #5b6570; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.err { color: #a1283a; max-width: 360px; overflow-wrap: anywhere; }
.pill { display: inline-block; padding: 0 7px; border-radius: 9px; color: #fff; font-size: 11.5px; }
dl.defs { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; font-size: 12px;
  color: #5b6570; margin: 8px 0 0; }
dl.defs dt { font-weight: 600; color: #2b333b; }
dl.defs dd { margin: 0; }
footer { color: #8a949e; font-size: 12px; text-align: center; padding: 0 0 24px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
"""


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _card(key: str, title: str, sub: str, body: str, *, wide: bool = False) -> str:
    cls = "card wide" if wide else "card"
    return (
        f'<section class="{cls}" id="chart-{esc(key)}" data-chart="{esc(key)}">'
        f'<h2>{esc(title)}</h2><p class="sub">{esc(sub)}</p>{body}</section>'
    )


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _totals(o: Overview) -> str:
    items = [
        (fmt_int(o.live), "live assets"),
        (fmt_int(o.deleted), "deleted upstream"),
        (fmt_int(o.versions), "versions kept"),
        (fmt_int(o.trees), "lineage trees"),
        (fmt_int(o.models), "models used"),
        (fmt_int(o.authors), "authors"),
        (f"{fmt_int(o.runs)} / {fmt_int(o.failed_runs)}", "sync runs / failed"),
        (fmt_int(o.rejects), "rejected records"),
    ]
    cells = "".join(
        f'<div class="total"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in items
    )
    return f'<div class="totals" id="totals">{cells}</div>'


def _period_label(bucket: str, d: date) -> str:
    if bucket == "month":
        return d.strftime("%Y-%m")
    return d.strftime("%m-%d") if bucket == "day" else d.strftime("%Y-%m-%d")


def _creations(c: CreationSeries) -> str:
    per = {"day": "day", "week": "week (ISO, from Monday)", "month": "month"}[c.bucket]
    sub = (
        f"Assets by UTC {per} of creation (deleted ones included), stacked by type; grey: the rest."
    )
    if not c.points:
        return _card(
            "creations", "Assets created per day by type", sub, _empty("No assets yet."), wide=True
        )
    periods = sorted({p.period for p in c.points})
    index = {p: i for i, p in enumerate(periods)}
    colors = {t: (GREY if t == OTHER else PALETTE[i % len(PALETTE)]) for i, t in enumerate(c.types)}
    values = {t: [0.0] * len(periods) for t in c.types}
    for p in c.points:
        values[p.type][index[p.period]] += p.assets
    series = [Series(t, colors[t], tuple(values[t])) for t in c.types]
    labels = [_period_label(c.bucket, p) for p in periods]
    svg = stacked_bars(labels, series, title=f"assets created per {c.bucket} by type")
    body = svg + legend([(t, colors[t]) for t in c.types])
    return _card("creations", f"Assets created per {c.bucket} by type", sub, body, wide=True)


def _models(models: Sequence[ModelCount]) -> str:
    sub = "Live assets produced by each model (metadata.modelId), top 10."
    if not models:
        return _card("models", "Top models by outputs", sub, _empty("No model outputs yet."))
    svg = hbars(
        [m.model_id for m in models],
        [m.outputs for m in models],
        notes=[
            f"{fmt_int(m.outputs)} · {m.authors} author{'s' if m.authors != 1 else ''}"
            for m in models
        ],
        title="top models by outputs",
    )
    return _card("models", "Top models by outputs", sub, svg)


def _depths(depths: Sequence[DepthCount]) -> str:
    sub = "Live assets by distance to the root of their lineage tree (0 = a root)."
    if not depths:
        return _card("depth", "Lineage depth", sub, _empty("No assets yet."))
    svg = columns(
        [f"depth {d.depth}" for d in depths],
        [d.assets for d in depths],
        colors=[PALETTE[2]] * len(depths),
        title="lineage depth distribution",
    )
    return _card("depth", "Lineage depth", sub, svg)


def _funnel(stages: Sequence[FunnelStage]) -> str:
    sub = (
        "Live assets per derivation category; the dark part was used as the parent of a live asset."
    )
    defs = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in CATEGORY_HELP.items())
    defs_html = f'<dl class="defs">{defs}</dl>'
    if not any(s.assets for s in stages):
        return _card("funnel", "Derivation funnel", sub, _empty("No assets yet.") + defs_html)
    svg = hbars(
        [s.category for s in stages],
        [s.assets for s in stages],
        inner=[s.used for s in stages],
        notes=[
            f"{fmt_int(s.assets)} · {100 * s.used / s.assets:.0f}% used" if s.assets else "0"
            for s in stages
        ],
        color="#8ec5e8",
        label_width=90,
        title="derivation funnel",
    )
    return _card("funnel", "Derivation funnel: uploads → generations → edits", sub, svg + defs_html)


def _lag_unit(lags: Sequence[float]) -> tuple[str, float]:
    top = max(lags, default=0.0)
    if top >= 7200:
        return " h", 3600.0
    if top >= 120:
        return " min", 60.0
    return " s", 1.0


def _runs(runs: Sequence[RunPoint]) -> str:
    sub = (
        "Last runs, oldest first: bars are assets fetched, coloured by outcome; the line is "
        "the lag when the run ended (finished minus watermark): how stale the copy was."
    )
    if not runs:
        return _card(
            "sync",
            "Sync health",
            sub,
            _empty("No sync runs yet: run assets-sync sync."),
            wide=True,
        )
    labels = [r.started_at.strftime("%m-%d %H:%M") for r in runs]
    tips = [
        f"{r.started_at:%Y-%m-%d %H:%M} {r.mode} {r.outcome}: fetched {fmt_int(r.fetched)}, "
        f"new {fmt_int(r.new)}, updated {fmt_int(r.updated)}, rejected {fmt_int(r.rejected)}, "
        f"retries {fmt_int(r.retries)}, duration {_duration(r.duration_s)}"
        for r in runs
    ]
    bars = columns(
        labels,
        [r.fetched for r in runs],
        colors=[OUTCOME_COLORS.get(r.outcome, GREY) for r in runs],
        tips=tips,
        width=1100,
        height=220,
        title="sync runs: assets fetched by outcome",
        max_labels=10,
        min_height=3.0,
    )
    outcomes = sorted({r.outcome for r in runs})
    keys = legend([(o, OUTCOME_COLORS.get(o, GREY)) for o in outcomes])
    lags = [r.lag_s for r in runs]
    unit, div = _lag_unit([v for v in lags if v is not None])
    lag_svg = line(
        labels,
        [None if v is None else v / div for v in lags],
        unit=unit,
        width=1100,
        height=180,
        title="lag at the end of each run",
        max_labels=10,
    )
    if all(v is None for v in lags):
        lag_svg = _empty("No run has advanced a watermark yet.")
    body = (
        bars + keys + f'<p class="sub" style="margin-top:12px">Lag at end of run '
        f"({esc(unit.strip())})</p>" + lag_svg + _runs_table(runs[-10:])
    )
    return _card("sync", "Sync health", sub, body, wide=True)


def _runs_table(runs: Sequence[RunPoint]) -> str:
    head = (
        "<tr><th>started</th><th>stream</th><th>mode</th><th>outcome</th>"
        '<th class="num">duration</th><th class="num">lag</th><th class="num">fetched</th>'
        '<th class="num">rejected</th><th class="num">retries</th><th class="num">429s</th>'
        "<th>error</th></tr>"
    )
    rows = []
    for r in reversed(runs):
        color = OUTCOME_COLORS.get(r.outcome, GREY)
        rows.append(
            f"<tr><td>{esc(_ts(r.started_at))}</td><td>{esc(r.stream_id)}</td>"
            f"<td>{esc(r.mode)}</td>"
            f'<td><span class="pill" style="background:{color}">{esc(r.outcome)}</span></td>'
            f'<td class="num">{esc(_duration(r.duration_s))}</td>'
            f'<td class="num">{esc(_duration(r.lag_s))}</td>'
            f'<td class="num">{fmt_int(r.fetched)}</td><td class="num">{fmt_int(r.rejected)}</td>'
            f'<td class="num">{fmt_int(r.retries)}</td><td class="num">{fmt_int(r.throttled)}</td>'
            f'<td class="err">{esc(r.error or "")}</td></tr>'
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _deletions(days: Sequence[DayCount]) -> str:
    sub = "Assets marked deleted per UTC day they were detected (complete reconciliations)."
    if not days:
        return _card("deletions", "Deletions over time", sub, _empty("No deletions detected."))
    svg = columns(
        [d.day.strftime("%m-%d") for d in days],
        [d.count for d in days],
        colors=[PALETTE[5]] * len(days),
        tips=[f"{d.day}: {fmt_int(d.count)} deleted" for d in days],
        title="deletions per day",
    )
    return _card("deletions", "Deletions over time", sub, svg)


def _changes(fields: Sequence[NamedCount]) -> str:
    sub = "Versions that changed each field versus the previous version of the asset."
    if not fields:
        return _card(
            "changes",
            "What changes between versions",
            sub,
            _empty("No asset has a second version yet."),
        )
    svg = hbars(
        [f.name for f in fields],
        [f.count for f in fields],
        color=PALETTE[3],
        label_width=120,
        title="changed fields",
    )
    return _card("changes", "What changes between versions", sub, svg)


def _rejects(rejects: Sequence[NamedCount], total: int) -> str:
    sub = f"Records the sync could not load, kept in rejected_assets ({fmt_int(total)} in all)."
    if not rejects:
        return _card("rejects", "Rejected records", sub, _empty("No rejected record."))
    rows = "".join(
        f'<tr><td class="err">{esc(r.name)}</td><td class="num">{fmt_int(r.count)}</td></tr>'
        for r in rejects
    )
    table = f'<table><tr><th>reason</th><th class="num">records</th></tr>{rows}</table>'
    return _card("rejects", "Rejected records", sub, table)


def render(data: ReportData) -> str:
    o = data.overview
    empty = o.assets == 0 and o.runs == 0
    notice = (
        '<div class="notice" id="empty-notice"><b>This warehouse is empty.</b> It holds no '
        "assets and no sync runs yet: run <code>assets-sync sync --warehouse …</code>, then "
        "this report again.</div>"
        if empty
        else ""
    )
    facts = [f"warehouse <b>{esc(data.warehouse)}</b>", f"generated {esc(_ts(data.generated_at))}"]
    if o.first_created_at and o.last_created_at:
        span = f"{_day(o.first_created_at.date())} → {_day(o.last_created_at.date())}"
        facts.append(f"assets created {esc(span)}")
    if o.last_success_at:
        facts.append(f"last successful sync {esc(_ts(o.last_success_at))}")
    if o.oldest_watermark:
        facts.append(f"oldest watermark {esc(_ts(o.oldest_watermark))}")
    meta = " · ".join(facts)
    sections = "".join(
        [
            _creations(data.creations),
            _models(data.models),
            _depths(data.depths),
            _funnel(data.funnel),
            _changes(data.changes),
            _deletions(data.deletions),
            _rejects(data.rejects, o.rejects),
            _runs(data.runs),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>assets-sync report · {esc(data.warehouse)}</title><style>{CSS}</style></head>"
        f"<body><header><h1>Scenario assets · analytics report</h1>"
        f'<div class="meta">{meta}</div></header><main>{notice}{_totals(o)}'
        f'<div class="grid">{sections}</div></main>'
        "<footer>assets-sync · all times UTC · hover a bar for its exact figure</footer>"
        "</body></html>\n"
    )
