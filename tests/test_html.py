"""The HTML report: self-contained, real sortable tables, charts, escaped text; and what a
browser really shows of it (headless Chromium, where installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from resnet_inspect import trace
from resnet_inspect.api import Result
from resnet_inspect.render import Format, render, render_html
from resnet_inspect.report.diff import diff_report
from resnet_inspect.report.document import Column, Report, Table
from resnet_inspect.report.summary import summary_report
from resnet_inspect.spec import resolve
from resnet_inspect.tracediff import diff_specs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _summary() -> Report:
    return summary_report(trace("resnet18"), 2)


def test_every_table_is_a_real_table_with_its_rows() -> None:
    """Catches a <pre> of box-drawing characters (what rich's HTML export gives)."""
    report = diff_report(diff_specs(resolve("resnet18"), resolve("resnet34")), 2)
    page = render(report, Format.HTML)
    tables = re.findall(r"<table class=\"sortable\">.*?</table>", page, re.S)
    assert len(tables) == len(report.tables)
    for table, html_table in zip(report.tables, tables, strict=True):
        assert html_table.count("<tr") == len(table.rows) + 1  # the header row too
        assert len(re.findall(r"<th[ >]", html_table)) == len(table.columns)
    assert "<pre" not in page and "┃" not in page


def test_numbers_sort_as_numbers() -> None:
    """Each cell carries a sort key: 9,408 and 118,013,952 compare as numbers, not text."""
    page = render_html(_summary())
    assert 'data-sort="9408">9,408</td>' in page
    assert 'data-sort="118013952">118,013,952</td>' in page
    assert "aria-sort" in page  # the sorting script is there


def test_the_report_needs_nothing_from_the_network() -> None:
    """Offline, a page that loads a font, a script or a style sheet from a CDN breaks."""
    page = render_html(_summary())
    fetched = re.findall(r"(?:src|href)\s*=\s*[\"']?https?:|url\(\s*[\"']?https?:|@import", page)
    assert not fetched


def test_the_svg_table_loads_no_font_from_the_network() -> None:
    svg = render(_summary(), Format.SVG)
    assert "@font-face" not in svg and "cdnjs" not in svg and "monospace" in svg


def test_text_from_a_file_is_escaped() -> None:
    """A key name read from a checkpoint can hold markup or terminal escapes."""
    hostile = "<script>alert(1)</script>\x1b[31m"
    table = Table(title=hostile, columns=(Column("Name", "left"),), rows=((hostile,),))
    page = render_html(Report(payload={"command": "check"}, tables=(table,)))
    assert "<script>alert" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m" in page


def test_a_notebook_shows_the_pages_table_escaped_alike() -> None:
    """Result._repr_html_ (Jupyter) once built a second table of its own, which let a
    terminal escape from a checkpoint's key name through; now it is the page's table."""
    hostile = "<script>alert(1)</script>\x1b[31m"
    table = Table(title=hostile, columns=(Column("Name", "left"), Column("Params")), rows=((hostile, 9408),))
    report = Report(payload={"command": "check"}, header=(hostile,), tables=(table,))
    shown = Result(data=None, report=report)._repr_html_()
    assert "<script" not in shown and "\x1b" not in shown
    assert shown.count("&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m") == 4  # header, title, cell, its sort key
    page_tables = re.findall(r"<table.*?</table>", render_html(report), re.S)
    assert re.findall(r"<table.*?</table>", shown, re.S) == page_tables
    assert '<td class="num" data-sort="9408">9,408</td>' in shown  # right-aligned, as a number


def test_charts_are_drawn_inline() -> None:
    pytest.importorskip("matplotlib")
    report = _summary()
    page = render_html(report)
    assert page.count("<svg") == len(report.charts) == 3
    assert "FLOPs per stage" in page and "Receptive field and resolution" in page


def test_without_matplotlib_the_report_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    page = render_html(_summary())
    assert "<svg" not in page and 'resnet-inspect[report]' in page and "<table" in page


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")
def test_a_browser_shows_the_tables_and_the_charts(tmp_path: Path) -> None:
    """Headless Chromium renders the page: the DOM it built has the tables and the charts, and
    the screenshot has the table header's background and the charts' bars in it."""
    pytest.importorskip("matplotlib")
    from PIL import Image

    page = tmp_path / "report.html"
    page.write_text(render_html(_summary()), encoding="utf-8")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    assert dom.count("<table") == 1 and dom.count("<svg") == 3
    assert dom.count("<tr") == len(_summary().tables[0].rows) + 1
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,2600", page.as_uri()],
                   capture_output=True, timeout=120, check=False)  # fmt: skip
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=2**24) or []
    counts = {colour: n for n, colour in colours}
    assert counts.get((246, 248, 250), 0) > 2000  # the table header's background
    assert counts.get((31, 119, 180), 0) > 2000  # matplotlib's first colour: the bars
