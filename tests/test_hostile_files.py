"""Files that are valid, or nearly: other pickle protocols, NumPy archives, quantized and sparse
tensors, keys at the top level, more tensors than the tool reads, and the usual training-script
variations (nesting, prefixes, metadata, bfloat16).

What a strict load does is asked of torch itself (``load_state_dict(strict=True)`` into a real
model), never copied from this tool's output; every file is a tiny net saved in tmp_path.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect.checkpoint import (
    read_checkpoint,
)
from resnet_inspect.cli import app
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

TINY = "resnet18:widths=8,16,32,64,stem_width=8,num_classes=5"


def tiny_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_model(resolve(TINY)).state_dict()


def _torch_loads_strictly(sd: dict[str, torch.Tensor]) -> bool:
    model = build_model(resolve(TINY))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_state_dict(sd, strict=True)
    except RuntimeError:
        return False
    return True


def one_error_line(result: Any, code: int) -> str:
    assert "Traceback" not in result.output
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


# --- pickle protocols ---------------------------------------------------------------------------
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_reads_or_is_named(
    tmp_path: Path, runner: CliRunner, protocol: int, zip_format: bool
) -> None:
    """torch.save(..., pickle_protocol=4) writes a valid file that torch's safe loader (the only
    one this tool uses) may not read: then the error names the protocol, never "corrupt"."""
    sd = tiny_state_dict()
    path = tmp_path / f"p{protocol}.pth"
    torch.save(sd, path, pickle_protocol=protocol, _use_new_zipfile_serialization=zip_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the reference: what torch's own safe loader makes of the file
            torch.load(path, weights_only=True)
            torch_reads = True
        except Exception:
            torch_reads = False
    if protocol <= 3:
        assert torch_reads  # torch.save's default is 2; protocol 3 adds only bytes opcodes
    if torch_reads:
        got = read_checkpoint(path).tensors
        assert got.keys() == sd.keys() and all(torch.equal(got[k], sd[k]) for k in sd)
    else:
        line = one_error_line(runner.invoke(app, ["identify", str(path)]), 2)
        assert f"pickle protocol {protocol}" in line and "weights_only=True" in line
        assert "corrupt" not in line and "not a torch.save file" not in line


# --- NumPy and other archives ---------------------------------------------------------------------
def _npz(path: Path, sd: dict[str, torch.Tensor]) -> Path:
    np = pytest.importorskip("numpy")
    np.savez(path, **{k: v.numpy() for k, v in sd.items()})
    return path


def test_a_numpy_npz_is_named_not_called_corrupt(tmp_path: Path, runner: CliRunner) -> None:
    path = _npz(tmp_path / "w.npz", tiny_state_dict())
    line = one_error_line(runner.invoke(app, ["check", TINY, str(path)]), 2)
    assert "NumPy .npz archive" in line and "122 arrays" in line  # resnet18 has 122 tensors
    assert "corrupt" not in line and "inline_container" not in line and "enforce" not in line


def test_a_numpy_npy_and_a_foreign_zip_are_named(tmp_path: Path, runner: CliRunner) -> None:
    np = pytest.importorskip("numpy")
    npy = tmp_path / "w.npy"
    np.save(npy, np.zeros(3))
    line = one_error_line(runner.invoke(app, ["identify", str(npy)]), 2)
    assert "NumPy .npy array" in line and "corrupt" not in line
    other = tmp_path / "notes.pth"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "hello")
    line = one_error_line(runner.invoke(app, ["identify", str(other)]), 2)
    assert "zip archive without the data.pkl" in line and "inline_container" not in line


# --- near-valid training files ------------------------------------------------------------------
def test_an_empty_nested_state_dict_says_where_it_is_empty(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "e.pth"
    torch.save({"state_dict": {}, "epoch": 3}, path)
    line = one_error_line(runner.invoke(app, ["identify", str(path)]), 2)
    assert "nested weights are an empty dict" in line


@pytest.mark.parametrize("case", ["nested prefixed", "safetensors metadata", "bfloat16"])
def test_training_script_variations_load_strictly(tmp_path: Path, runner: CliRunner, case: str) -> None:
    sd = tiny_state_dict()
    if case == "nested prefixed":
        path = tmp_path / "n.pth"
        torch.save({"model": {f"module._orig_mod.{k}": v for k, v in sd.items()}, "epoch": 1}, path)
    elif case == "safetensors metadata":
        from safetensors.torch import save_file

        path = tmp_path / "m.safetensors"
        save_file(sd, str(path), metadata={"format": "pt", "arch": "resnet18"})
    else:
        path = tmp_path / "b.pth"
        sd = {k: v.bfloat16() if v.is_floating_point() else v for k, v in sd.items()}
        torch.save(sd, path)
    assert _torch_loads_strictly(sd)
    for command in (["check", TINY, str(path)], ["identify", str(path)]):
        result = runner.invoke(app, [*command, "-f", "json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data.get("loads_strictly", data.get("proved")) is True
        assert data["checkpoint"]["tensors"] == len(sd)
