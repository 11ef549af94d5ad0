"""Golden outputs: every command's table and JSON, byte for byte, as a user sees them.

They were taken before the package was restructured, and prove that a restructuring changes
no command's output unless the change was meant. A renamed JSON key, a moved column, a lost
footer line all fail here. When a change of output is intended, regenerate with

    python -m pytest tests/test_golden.py --update-golden

and read the diff of tests/golden/ before committing it (and bump ``schema_version`` when a
JSON key changes). Tables are rendered colourless at a fixed width, as when piped.
bench is timed, so its JSON is compared by keys (its structure) and its deterministic values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect import build
from resnet_inspect.cli import app

GOLDEN = Path(__file__).parent / "golden"
CKPT = "resnet20_golden.pth"  # a relative name, so it reads the same in every output

TINY18 = "resnet18:layers=1,1,1,1,widths=8,8,8,8,stem_width=8"
CASES: dict[str, list[str]] = {
    "summary_resnet18": ["summary", "resnet18", "--depth", "1"],
    "summary_resnet50_d3": ["summary", "resnet50", "--depth", "3"],
    "summary_resnet20_fp16": ["summary", "resnet20", "--dtype", "float16"],
    "summary_weights": ["summary", "resnet20", "--weights", CKPT],
    "summary_groupnorm": ["summary", "resnet26d:norm=group,shortcut=C", "--input", "2x3x96x96"],
    "summary_nonorm_dilated": ["summary", "resnet50:norm=none,replace_stride_with_dilation=0,1,1"],
    "flops_resnet18_stage": ["flops", "resnet18", "--by", "stage"],
    "flops_resnet50d_layer": ["flops", "resnet50d"],
    "flops_resnet20_operator": ["flops", "resnet20", "--by", "operator"],
    "flops_fvcore": ["flops", "resnet20", "--counter", "fvcore", "--by", "stage"],
    "list": ["list"],
    "diff_stride_in": ["diff", "resnet50", "resnet50:stride_in=1x1", "--only-changed"],
    "diff_depth3": ["diff", "resnet18", "resnet34", "--depth", "3"],
    "diff_shortcut": ["diff", "resnet20", "resnet20:shortcut=B"],
    # A and B differ in place (se's fc1, act, fc2 against eca's conv): A's rows come first
    "diff_attn": ["diff", f"{TINY18},attn=se", f"{TINY18},attn=eca", "--depth", "4", "--only-changed",
                  "--input", "1x3x32x32"],
    "check_ok": ["check", "resnet20", CKPT, "--all"],
    "check_mismatch": ["check", "resnet20:num_classes=100", CKPT],
    "identify": ["identify", CKPT],
}
FORMATS = {"table": [], "json": ["--format", "json"]}
# CSV and markdown for a subset: a tree at depth 3 and 4 (the CSV's parent column), the flops
# tables, a diff with added and removed rows, a flat table (list), check and identify
RENDERED = {"csv": ["--format", "csv"], "md": ["--format", "markdown"]}
RENDERED_CASES = ("summary_resnet50_d3", "flops_resnet50d_layer", "flops_resnet20_operator",
                  "diff_depth3", "diff_attn", "list", "check_ok", "identify")  # fmt: skip
BENCH = ["bench", "resnet18:widths=8,8,8,8,stem_width=8", "--input", "3x16x16", "--batch", "1,2",
         "--warmup", "0", "--min-time", "0.02", "--threads", "1", "--format", "json"]  # fmt: skip


@pytest.fixture(scope="module")
def in_ckpt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("golden")
    torch.manual_seed(0)
    torch.save(build("resnet20").state_dict(), where / CKPT)
    return where


def _run(args: list[str], where: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(where)
    monkeypatch.setenv("COLUMNS", "120")
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout


def _check(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden output {path.name}: run with --update-golden"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed; if meant, regenerate with --update-golden"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_command_output_is_unchanged(
    case: str, fmt: str, in_ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    code, out = _run(CASES[case] + FORMATS[fmt], in_ckpt_dir, monkeypatch)
    expected_code = 1 if case == "check_mismatch" else 0
    assert code == expected_code, out
    if fmt == "json":
        json.loads(out)  # whole, parseable
    _check(f"{case}.{'json' if fmt == 'json' else 'txt'}", out, request.config.getoption("update_golden"))


@pytest.mark.parametrize("fmt", RENDERED)
@pytest.mark.parametrize("case", RENDERED_CASES)
def test_csv_and_markdown_output_is_unchanged(
    case: str, fmt: str, in_ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    code, out = _run(CASES[case] + RENDERED[fmt], in_ckpt_dir, monkeypatch)
    assert code == 0, out
    _check(f"{case}.{fmt}", out, request.config.getoption("update_golden"))


def _skeleton(value: Any) -> Any:
    """The keys of a JSON document, recursively, with the type of each leaf."""
    if isinstance(value, dict):
        return {k: _skeleton(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_skeleton(value[0])] if value else []
    return type(value).__name__ if value is not None else "null"


def test_bench_json_keeps_its_keys(
    in_ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    code, out = _run(BENCH, in_ckpt_dir, monkeypatch)
    assert code == 0, out
    doc = json.loads(out)
    # timings vary run to run; what must not: the structure and the deterministic values
    stable = {
        "skeleton": _skeleton(doc),
        "schema_version": doc["schema_version"],
        "flops": [m["flops"] for m in doc["results"]],
        "batches": [m["batch"] for m in doc["results"]],
    }
    _check("bench.json", json.dumps(stable, indent=1, sort_keys=True) + "\n",
           request.config.getoption("update_golden"))  # fmt: skip


def test_golden_files_are_all_used() -> None:
    """A golden file no case writes is a check that silently stopped running."""
    expected = {f"{c}.{'json' if f == 'json' else 'txt'}" for c in CASES for f in FORMATS}
    expected |= {f"{c}.{f}" for c in RENDERED_CASES for f in RENDERED}
    expected.add("bench.json")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("file listing under xdist")
    assert {p.name for p in GOLDEN.iterdir()} <= expected
