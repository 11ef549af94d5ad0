"""One --input grammar: BxCxHxW for every command, bench included; bench's sweep from --batch.

The rule (ours, so derived by hand here): without --batch, the input's B is the batch; with
--batch, the batches are its list, and a B given too must agree (a single batch equal to B);
a CxHxW input is still taken, the batch then coming from --batch (default 1)."""

from __future__ import annotations

import pytest

from resnet_inspect.benchmark import parse_bench_input
from resnet_inspect.errors import UsageError


@pytest.mark.parametrize(("text", "batch", "expected"), [
    ("1x3x64x64", None, ((1,), (3, 64, 64))),
    ("8x3x224x224", None, ((8,), (3, 224, 224))),  # the batch comes from B
    ("8x3x224x224", "8", ((8,), (3, 224, 224))),  # both, agreeing
    ("3x32x32", "1,8,32", ((1, 8, 32), (3, 32, 32))),  # a sweep over one image's shape
    ("3x32x32", None, ((1,), (3, 32, 32))),
    (None, "2,4", ((2, 4), None)),  # the variant's default image
    (None, None, ((1,), None)),
])  # fmt: skip
def test_the_batch_comes_from_one_place(text: str | None, batch: str | None, expected: tuple) -> None:  # type: ignore[type-arg]
    assert parse_bench_input(text, batch) == expected


@pytest.mark.parametrize(("text", "batch"), [("8x3x224x224", "1,8"), ("2x3x32x32", "4"), ("", None),
                                             ("1x3x224", "1,2,x")])  # fmt: skip
def test_a_conflict_or_a_malformed_input_is_bad_input(text: str, batch: str | None) -> None:
    """Catches --input's B silently overruled by --batch (or the reverse)."""
    with pytest.raises(UsageError, match=r"--input|--batch"):
        parse_bench_input(text, batch)


def test_bench_on_the_command_line_takes_summarys_input(runner) -> None:  # type: ignore[no-untyped-def]
    import json

    from resnet_inspect.cli import app

    args = ["bench", "resnet20", "--input", "2x3x32x32", "--warmup", "0", "--min-time", "0.02",
            "--threads", "1", "-f", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [r["input_shape"] for r in json.loads(result.stdout)["results"]] == [[2, 3, 32, 32]]
    clash = runner.invoke(app, [*args[:4], "--batch", "1,4"])
    assert clash.exit_code == 2 and "says batch 2 but --batch says 1,4" in clash.stderr
