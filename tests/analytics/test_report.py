"""The figures of `warehouse.analytics` and the HTML report: known answers, every chart
present, data escaped, no external resource, an empty warehouse, the CLI and the Dagster asset."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main
from pipelines.report import render_report, write_report
from pipelines.report_asset import analytics_report
from pipelines.resources import WarehouseResource
from tests.analytics.dataset import EVIL, EVIL_TYPE
from warehouse import analytics

CHARTS = ("creations", "models", "depth", "funnel", "changes", "deletions", "rejects", "sync")
#: Every element the report may contain: no script, image, link, iframe, object, form...
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "div", "b", "main",
    "section", "p", "span", "i", "dl", "dt", "dd", "table", "tr", "th", "td", "code", "footer",
    "svg", "line", "text", "rect", "polyline", "circle",
}  # fmt: skip


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.charts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self.charts.extend(v for k, v in attrs if k == "data-chart" and v)


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    parser.close()
    return parser


def test_figures_of_the_known_dataset(con: duckdb.DuckDBPyConnection) -> None:
    o = analytics.overview(con)
    assert (o.assets, o.live, o.deleted, o.versions) == (10, 8, 2, 13)
    assert (o.trees, o.models, o.authors, o.rejects) == (2, 3, 3, 1)
    assert (o.streams, o.runs, o.failed_runs) == (1, 2, 1)
    assert o.last_success_at == datetime(2026, 3, 7, 2, 0, 30, tzinfo=UTC)

    assert [(m.model_id, m.outputs, m.authors) for m in analytics.top_models(con)] == [
        ("model_a", 2, 1),  # most outputs first, then by id
        (EVIL, 1, 1),
        ("model_b", 1, 1),
    ]
    assert [(d.depth, d.assets) for d in analytics.depth_distribution(con)] == [
        (0, 3),  # u1, t1, x1 (c1 is deleted)
        (1, 3),  # g1, g2, o1 (e3 is deleted)
        (2, 1),
        (3, 1),
    ]
    assert [(s.category, s.assets, s.used) for s in analytics.derivation_funnel(con)] == [
        ("upload", 1, 1),  # u1, parent of g1
        ("generation", 4, 1),  # g1 (parent of e1); t1's only child e3 is deleted
        ("edit", 3, 1),  # e1, parent of e2
        ("other", 0, 0),
    ]
    assert [(c.name, c.count) for c in analytics.changed_fields(con)] == [
        ("url", 3), ("name", 1), ("privacy", 1), ("status", 1), ("tags", 1),
    ]  # fmt: skip
    assert [d.count for d in analytics.deletions_per_day(con)] == [2]
    assert [(r.run_id, r.outcome, r.lag_s) for r in analytics.recent_runs(con)] == [
        ("run_ok", "success", 3630.0),
        ("run_bad", "failed", 90005.0),
    ]
    assert [r.count for r in analytics.rejects_by_reason(con)] == [1]


def test_creations_by_type_buckets_and_groups_small_types(con: duckdb.DuckDBPyConnection) -> None:
    series = analytics.creations_by_type(con)
    assert series.bucket == "day"
    assert series.types[:2] == ("inference-img2img", "upscale")  # 2 assets each
    assert sum(p.assets for p in series.points) == 10
    assert {p.period for p in series.points} == {date(2026, 3, d) for d in (2, 3, 4)}
    grouped = analytics.creations_by_type(con, top_types=2, max_points=2)
    assert grouped.bucket == "week"
    assert grouped.types == ("inference-img2img", "upscale", analytics.OTHER)
    assert {(p.period, p.type, p.assets) for p in grouped.points} == {
        (date(2026, 3, 2), "inference-img2img", 2),
        (date(2026, 3, 2), "upscale", 2),
        (date(2026, 3, 2), analytics.OTHER, 6),
    }


def test_report_has_every_chart_and_escapes_data(con: duckdb.DuckDBPyConnection) -> None:
    page = render_report(con, "/data/<wh>.duckdb", datetime(2026, 3, 9, tzinfo=UTC))
    found = parse(page)
    assert found.charts == list(CHARTS)
    assert found.tags <= ALLOWED_TAGS, found.tags - ALLOWED_TAGS
    assert not {a for a in found.attributes if a.startswith("on") or a in ("src", "href")}
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert html.escape(EVIL) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert html.escape(EVIL) in page  # the model id, the run's error, a reject reason: text
    assert html.escape(EVIL_TYPE) in page  # an asset type, as text
    assert "/data/&lt;wh&gt;.duckdb" in page
    assert page.count("<svg") >= 8  # creations, models, depth, funnel, changes, deletions, 2 sync
    assert "2026-03-09 00:00 UTC" in page
    assert 'id="empty-notice"' not in page


def test_report_needs_no_network(con: duckdb.DuckDBPyConnection) -> None:
    page = render_report(con, "wh.duckdb")
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<)]*", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace name, never fetched
    assert "@import" not in page and "url(" not in page and "<link" not in page


def test_report_of_an_empty_warehouse(empty_path: str, tmp_path: Path) -> None:
    out = write_report(empty_path, str(tmp_path / "sub" / "report.html"))
    page = out.read_text(encoding="utf-8")
    found = parse(page)
    assert 'id="empty-notice"' in page
    assert found.charts == list(CHARTS)
    assert "No sync runs yet" in page and "No assets yet." in page
    assert found.tags <= ALLOWED_TAGS


def test_cli_report(known_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--warehouse", known_path, "--out", str(out)]) == 0
    assert "report written to" in capsys.readouterr().out
    assert parse(out.read_text(encoding="utf-8")).charts == list(CHARTS)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left


def test_cli_report_without_a_warehouse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.duckdb"
    assert main(["report", "--warehouse", str(missing), "--out", str(tmp_path / "r.html")]) == 1
    assert "run a sync first" in capsys.readouterr().err


def test_dagster_asset_writes_the_report(known_path: str, tmp_path: Path) -> None:
    out = tmp_path / "dash" / "report.html"
    result = dg.materialize(
        [analytics_report],
        resources={"warehouse": WarehouseResource(path=known_path)},
        run_config={"ops": {"analytics_report": {"config": {"out": str(out)}}}},
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("analytics_report")
    assert mat.metadata["path"].value == str(out)
    assert mat.metadata["live_assets"].value == 8
    assert mat.metadata["failed_runs"].value == 1
    assert parse(out.read_text(encoding="utf-8")).charts == list(CHARTS)
