"""The HTML report: one self-contained file with real, sortable tables and charts.

Nothing is fetched when the file is opened: the styles and the few lines of script that sort
a table by a clicked header are inline, and the charts are inline SVG drawn by matplotlib
(an optional extra, ``pip install "resnet-inspect[report]"``: without it the report says so
and keeps its tables). Every text that reaches the page is escaped: key names read from a
checkpoint are untrusted.
"""

from __future__ import annotations

import html
import io
import math
from typing import Any

from ..report.document import Bar, Chart, Report, Table, cell_text
from ..units import printable
from .base import DEFAULT_OPTIONS, RenderOptions

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
  background:#fff;margin:24px auto;max-width:1200px;padding:0 16px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 6px}
p{margin:4px 0} .muted{color:#59636e} .warn{color:#9a6700}
table{border-collapse:collapse;margin:6px 0 4px;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;border-bottom:1px solid #d1d9e0;white-space:nowrap}
th{background:#f6f8fa;text-align:left;cursor:pointer;user-select:none;position:sticky;top:0}
th.num,td.num{text-align:right} th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
tr.green td{background:#dafbe1} tr.red td{background:#ffebe9} tr.yellow td{background:#fff8c5}
tr.dim td{color:#8c959f} tr.bold td{font-weight:600}
.bar{display:inline-block;width:80px;height:9px;background:#eaeef2;margin-left:6px;
  vertical-align:middle} .bar span{display:block;height:100%;background:#0969da}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px} figure{margin:12px 0} figcaption{color:#59636e;font-size:13px} svg{max-width:100%;height:auto}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def render_html(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """The whole page; exact numbers always (a page is for reading closely and sorting)."""
    title = f"resnet-inspect {report.payload.get('command', '')}".strip()
    parts = [f"<h1>{_e(title)}</h1>", *_lines(report.header), *(_table(t) for t in report.tables)]
    if report.charts:
        parts.append("<h2>Charts</h2>")
        parts += _charts(report.charts)
    parts += _lines(report.notes)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width\"><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) +
        f"\n<script>{SORT_SCRIPT}</script>\n</body></html>\n"
    )  # fmt: skip


# a notebook shows the fragment inside its own page, whose tables align every cell right: the
# rules are scoped to the fragment, and specific enough (div.class td) to win over the notebook's
FRAGMENT_STYLE = ("div.resnet-inspect th,div.resnet-inspect td{text-align:left}"
                  "div.resnet-inspect th.num,div.resnet-inspect td.num{text-align:right}")  # fmt: skip


def html_fragment(report: Report) -> str:
    """The report's lines and tables for a notebook (``Result._repr_html_``): the page's own
    tables and escaping, without the page around them, its script, or the charts (matplotlib
    on every display of a result would be slow)."""
    parts = [*_lines(report.header), *(_table(t) for t in report.tables), *_lines(report.notes)]
    return f"<div class=\"resnet-inspect\"><style>{FRAGMENT_STYLE}</style>\n" + "\n".join(parts) + "\n</div>"


def _lines(lines: tuple[str, ...]) -> list[str]:
    return [f"<p>{_e(_plain(line))}</p>" for line in lines]


def _e(text: str) -> str:
    """Escaped for HTML, and with control characters shown as escapes, never passed on."""
    return html.escape(printable(text))


def _plain(line: str) -> str:
    from rich.text import Text

    try:
        return Text.from_markup(line).plain
    except Exception:  # not markup after all: show it as it is
        return line


def _table(table: Table) -> str:
    numeric = [c.justify == "right" for c in table.columns]
    head = "".join(f"<th class=\"{'num' if n else ''}\">{_e(c.header)}</th>"
                   for c, n in zip(table.columns, numeric, strict=True))  # fmt: skip
    rows = []
    for i, row in enumerate(table.rows):
        style = table.styles[i] if i < len(table.styles) else ""
        cells = "".join(_cell(v, n) for v, n in zip(row, numeric, strict=True))
        rows.append(f"<tr class=\"{_e(style)}\">{cells}</tr>")
    out = [f"<h2>{_e(_plain(table.title))}</h2>" if table.title else ""]
    out.append(f"<table class=\"sortable\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    lines = (table.caption, *table.footer)
    out += [f"<p class=\"{'warn' if ln.startswith('warning') else 'muted'}\">{_e(_plain(ln))}</p>"
            for ln in lines if ln]  # fmt: skip
    return "\n".join(out)


def _cell(value: Any, numeric: bool) -> str:
    key = _sort_key(value)
    cls = " class=\"num\"" if numeric else ""
    if isinstance(value, Bar):
        width = 100 * max(0.0, min(1.0, value.fraction))
        return (f"<td{cls} data-sort=\"{key}\">{100 * value.fraction:.1f}%"
                f"<span class=\"bar\"><span style=\"width:{width:.1f}%\"></span></span></td>")  # fmt: skip
    return f"<td{cls} data-sort=\"{_e(key)}\">{_e(cell_text(value))}</td>"


def _sort_key(value: Any) -> str:
    if isinstance(value, Bar):
        return f"{value.fraction:.9g}"
    if isinstance(value, bool) or value is None:
        return cell_text(value)
    if isinstance(value, (int, float)):
        return f"{value:.12g}"
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return str(math.prod(value))
    return cell_text(value)


# --- charts -------------------------------------------------------------------------------------
def _charts(charts: tuple[Chart, ...]) -> list[str]:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ["<p class=\"warn\">Charts need matplotlib, which is not installed here: "
                "pip install \"resnet-inspect[report]\". The tables above are complete.</p>"]  # fmt: skip
    out = ["<div class=\"charts\">"]
    for chart in charts:
        caption = f"<figcaption>{_e(chart.note)}</figcaption>" if chart.note else ""
        out.append(f"<figure>{_svg(chart)}{caption}</figure>")
    return [*out, "</div>"]


def _svg(chart: Chart) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    settings: Any = {"svg.fonttype": "none", "svg.hashsalt": "resnet-inspect", "font.size": 9,
                "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False}  # fmt: skip
    with matplotlib.rc_context(settings):
        wide = len(chart.categories) > 12 or len(chart.samples) > 6
        fig = Figure(figsize=(11 if wide else 5.6, 4.2 if wide else 3.2))
        ax = fig.add_subplot()
        DRAW[chart.kind](ax, chart)
        ax.set_title(chart.title, loc="left", fontsize=11)
        ax.set_xlabel(chart.x_label)
        ax.set_ylabel(chart.y_label)
        if chart.log_y:
            ax.set_yscale("log")
        if chart.log_x:
            ax.set_xscale("log", base=2 if chart.kind == "line" else 10)
        ax.grid(axis="y", alpha=0.3)
        if len(chart.series) > 1 or chart.ceilings:
            ax.legend(frameon=False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _ticks(ax: Any, labels: tuple[str, ...]) -> None:
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90 if len(labels) > 8 else 0, fontsize=7 if len(labels) > 20 else 9)


def _bar(ax: Any, chart: Chart) -> None:
    n = max(len(chart.series), 1)
    width = 0.8 / n
    for i, s in enumerate(chart.series):
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(chart.categories))]
        ax.bar(xs, [v if v is not None else 0 for v in s.values], width, label=s.name)
    _ticks(ax, chart.categories)


def _line(ax: Any, chart: Chart) -> None:
    xs: list[float] = list(chart.x) if chart.x else list(range(len(chart.categories)))
    for s in chart.series:
        pts = [(x, v) for x, v in zip(xs, s.values, strict=True) if v is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=s.name)
    if chart.x:
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{x:g}" for x in xs])
    else:
        _ticks(ax, chart.categories)


def _box(ax: Any, chart: Chart) -> None:
    ax.boxplot([list(s) for s in chart.samples], showfliers=True)
    ax.set_xticks(range(1, len(chart.categories) + 1))
    ax.set_xticklabels(chart.categories, rotation=30 if len(chart.categories) > 3 else 0, ha="right")


def _scatter(ax: Any, chart: Chart) -> None:
    xs, ys = [p[0] for p in chart.points], [p[1] for p in chart.points]
    ax.scatter(xs, ys, s=18)
    for x, y, label in chart.points:
        ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for label, peak, slope in chart.ceilings:
        lo, hi = min(xs) / 4, max(xs) * 4
        grid = [lo * (hi / lo) ** (k / 50) for k in range(51)]
        ax.plot(grid, [min(peak, slope * g) for g in grid], linestyle="--", label=f"{label} roofline")


DRAW = {"bar": _bar, "line": _line, "box": _box, "scatter": _scatter}
