"""Files that are valid, or nearly: other pickle protocols, NumPy archives, quantized and sparse
tensors, keys at the top level, more tensors than the tool reads, and the usual training-script
variations (nesting, prefixes, metadata, bfloat16).

What a strict load does is asked of torch itself (``load_state_dict(strict=True)`` into a real
model), never copied from this tool's output; every file is a tiny net saved in tmp_path.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect.checkpoint import (
    compare,
    load_weights_into,
    read_checkpoint,
)
from resnet_inspect.checkpoint import read as read_module
from resnet_inspect.cli import app
from resnet_inspect.identification.proof import identify_checkpoint
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, resolve

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
def test_every_pickle_protocol_reads(tmp_path: Path, protocol: int, zip_format: bool) -> None:
    """torch.save(..., pickle_protocol=4) writes a valid file that torch 2.13's safe loader
    cannot parse (protocol 4's FRAME): it is read by the restricted unpickler instead, and
    gives back exactly the tensors saved. Catches a valid file called corrupt or refused."""
    sd = tiny_state_dict()
    path = tmp_path / f"p{protocol}.pth"
    torch.save(sd, path, pickle_protocol=protocol, _use_new_zipfile_serialization=zip_format)
    got = read_checkpoint(path).tensors
    assert got.keys() == sd.keys() and all(torch.equal(got[k], sd[k]) for k in sd)


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo resnet-inspect-ran-code",))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("protocol", [4, 5])
def test_a_newer_protocol_pickle_that_would_run_code_is_refused(
    tmp_path: Path, runner: CliRunner, capfd: pytest.CaptureFixture[str], protocol: int, zip_format: bool
) -> None:
    """The restricted unpickler of protocols 4 and 5 refuses a global that is not a tensor's
    rebuild function or a plain container, before importing it: nothing runs."""
    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.ones(1), "x": _RunsCode()}, path, pickle_protocol=protocol,
               _use_new_zipfile_serialization=zip_format)  # fmt: skip
    line = one_error_line(runner.invoke(app, ["identify", str(path)]), 2)
    assert "refused: unpickling it would import" in line and "system" in line
    assert "resnet-inspect-ran-code" not in capfd.readouterr().out


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


# --- dtypes and layouts torch will not copy ---------------------------------------------------
def _quantized(t: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantize_per_tensor is deprecated, still loadable
        return torch.quantize_per_tensor(t, 0.1, 0, torch.qint8)


FC_WEIGHTS = {
    "qint8": _quantized,
    "sparse": lambda t: t.to_sparse(),
    "int8": lambda t: t.to(torch.int8),
    "bfloat16": lambda t: t.to(torch.bfloat16),
    "float64": lambda t: t.to(torch.float64),
}


@pytest.mark.parametrize("kind", FC_WEIGHTS)
def test_check_and_identify_agree_with_a_real_strict_load(tmp_path: Path, kind: str) -> None:
    """A qint8 fc.weight: check said "loads strictly" where torch's copy_ refuses it; int8
    weights: identify's proof (assign=True) refused what a real load converts."""
    sd = tiny_state_dict()
    sd["fc.weight"] = FC_WEIGHTS[kind](sd["fc.weight"])
    path = tmp_path / f"{kind}.pth"
    torch.save(sd, path)
    loads = _torch_loads_strictly(sd)
    assert loads is (kind not in ("qint8", "sparse"))  # torch's copy_ refuses exactly these two
    checkpoint = read_checkpoint(path)
    assert compare(resolve(TINY), checkpoint).loads_strictly is loads
    assert identify_checkpoint(checkpoint).proved is loads


def test_a_quantized_weight_is_one_complete_line_and_the_model_untouched(
    tmp_path: Path, runner: CliRunner
) -> None:
    sd = tiny_state_dict()
    sd["fc.weight"] = _quantized(sd["fc.weight"])
    path = tmp_path / "q.pth"
    torch.save(sd, path)
    for command in (["summary", TINY], ["bench", TINY, "--batch", "1"]):
        line = one_error_line(runner.invoke(app, [*command, "--weights", str(path)]), 1)
        # whole: the key, its dtype, the reason, and the pointer to check at the very end
        assert "fc.weight" in line and "qint8" in line and "quantized" in line
        assert line.endswith("(details: resnet-inspect check)"), line
    model = build_model(resolve(TINY))
    before = model.fc.weight.detach().clone()
    with pytest.raises(Exception, match="quantized"):
        load_weights_into(model, path)
    assert torch.equal(model.fc.weight, before)


def test_check_shows_which_tensor_cannot_be_copied(tmp_path: Path, runner: CliRunner) -> None:
    sd = tiny_state_dict()
    sd["fc.weight"] = sd["fc.weight"].to_sparse()
    path = tmp_path / "s.pth"
    torch.save(sd, path)
    result = runner.invoke(app, ["check", TINY, str(path), "-f", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["loads_strictly"] is False and "fc.weight" not in data["matching"]
    assert [c["key"] for c in data["cannot_be_copied"]] == ["fc.weight"]
    assert data["cannot_be_copied"][0]["found"] == "sparse_coo"


# --- keys without a dot -------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_top_level_keys_keep_their_whole_name(tmp_path: Path, runner: CliRunner, fmt: str) -> None:
    sd = tiny_state_dict() | {"extra": torch.zeros(2), "temperature": torch.ones(())}
    path = tmp_path / "extra.pth"
    torch.save(sd, path)
    result = runner.invoke(app, ["check", TINY, str(path), "-f", fmt])
    assert result.exit_code == 1, result.output
    if fmt == "csv":
        rows = [r for r in csv.reader(io.StringIO(result.stdout)) if "unexpected" in r]
        assert any("extra, temperature" in r for r in rows), rows
    else:
        assert "extra, temperature" in " ".join(result.stdout.split())
    assert "xtra, emperature" not in result.stdout.replace("extra, temperature", "")


# --- more tensors than the tool reads -----------------------------------------------------------
def _tensor_count(name: str) -> int:
    return len(build_model(resolve(name), "meta").state_dict())


def test_the_largest_preset_named_in_the_refusal_is_the_largest() -> None:
    """Counted with the builder over the deepest presets (all 136 take ~10 s): a preset of 67
    blocks or fewer would need over 46 tensors a block to pass resnetrs420's 3,108, and the
    most among these is ResNeSt's ~27."""
    deepest = sorted(PRESETS, key=lambda n: -sum(resolve(n).layers))[:6]
    counts = {name: _tensor_count(name) for name in deepest}
    name, tensors = read_module.LARGEST_PRESET
    assert counts[name] == tensors == max(counts.values())
    rest = [n for n in PRESETS if n not in counts]
    assert max(sum(resolve(n).layers) for n in rest) * 46 < tensors


def test_the_refusal_states_the_limit_and_the_largest_preset(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_module, "MAX_FILE_TENSORS", 100)
    path = tmp_path / "many.pth"
    torch.save({f"layer1.{i}.conv1.weight": torch.zeros(1) for i in range(101)}, path)
    line = one_error_line(runner.invoke(app, ["identify", str(path)]), 2)
    name, tensors = read_module.LARGEST_PRESET
    assert "101 tensors in the file, more than the 100 this tool reads" in line
    assert f"the largest preset, {name}, holds {tensors:,}" in line


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
