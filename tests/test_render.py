"""The renderers' one interface: every format reached through one table, with the options a
caller gives (width, exact, ascii_only) reaching the renderer."""

from __future__ import annotations

import pytest

from resnet_inspect.render import RENDERERS, Format, render
from resnet_inspect.report.document import Column, Report, Table


def _report() -> Report:
    # one count shown in human units on screen; a name and a line outside ASCII
    table = Table(title="Δ layers", columns=(Column("Name", "left"), Column("Params", human=True)),
                  rows=(("conv→1", 11_689_512),), footer=("total · 1 layer",))  # fmt: skip
    return Report(payload={"command": "summary", "name": "conv→1"}, header=("Δ résumé",), tables=(table,))


def test_every_format_has_its_renderer() -> None:
    """A Format member without a renderer would fail only when a user asks for it."""
    assert set(RENDERERS) == set(Format)
    for fmt in Format:
        assert "conv" in render(_report(), fmt), fmt  # the row, or the payload in json


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.value)
def test_ascii_only_holds_for_every_format(fmt: Format) -> None:
    """LC_ALL=C or PYTHONIOENCODING=ascii: any non-ASCII character would raise on writing."""
    text = render(_report(), fmt, ascii_only=True)
    assert text.isascii()
    assert "conv\\u2192" in text or "conv\\\\u2192" in text  # escaped, not dropped (json escapes its own)


def test_an_ascii_table_is_drawn_in_ascii_not_escaped_boxes() -> None:
    """render() escapes whatever is left over, so the check above holds even for a table that
    forgot its ASCII box: the table renderer itself must draw +, - and |, not the heavy box
    characters (which the escape would turn into unreadable \\u250f runs)."""
    from resnet_inspect.render import RenderOptions, render_table

    text = render_table(_report(), RenderOptions(width=60, ascii_only=True))
    assert "\\u25" not in text.encode("ascii", "backslashreplace").decode()
    assert "|" in text and "-" in text


def test_width_and_exact_reach_the_table() -> None:
    """11,689,512 is 11.7 M in human units (rounded to one decimal by hand); --exact shows it whole."""
    human = render(_report(), Format.TABLE, width=40)
    exact = render(_report(), Format.TABLE, width=40, exact=True)
    assert "11.7 M" in human and "11,689,512" not in human
    assert "11,689,512" in exact
    assert max(len(line) for line in human.splitlines()) <= 40
