"""convert (conversion.py): a checkpoint written in torchvision's, timm's or Hugging Face's
layout, refused where the target cannot hold the variant, written atomically, and proved.

The foreign files are the libraries' own key names and shapes (tests/reference/foreign/, as
tests/test_layouts.py uses them); their values are regenerated from the names there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from reference.weights import decode_float32
from test_layouts import HF_TINY, RTOL, cases, fixture, our_output, relative_difference, write
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect import conversion
from resnet_inspect.checkpoint import layouts as layouts_pkg
from resnet_inspect.checkpoint import read_checkpoint
from resnet_inspect.checkpoint.layouts import Layout, Mapped
from resnet_inspect.cli import app
from resnet_inspect.conversion import ConversionRefused, Target, convert
from resnet_inspect.errors import UsageError
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve


def saved(tmp_path: Path, arch: str, name: str = "src.pth") -> tuple[Path, dict[str, torch.Tensor]]:
    """A small model's random weights (BN statistics and counters too), saved by torch.save."""
    torch.manual_seed(0)
    sd = build_model(resolve(arch)).state_dict()
    for t in sd.values():  # values a wrong copy would show: nothing left at its init
        t.copy_(
            torch.randint(1, 9, t.shape) if t.dtype == torch.int64 else torch.rand(t.shape) + 0.5
        )
    path = tmp_path / name
    torch.save(sd, path)
    return path, sd


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


# --- round trips ------------------------------------------------------------------------------
def test_torchvision_to_hf_and_back_is_bit_exact(tmp_path: Path, runner: CliRunner) -> None:
    """Catches a tensor renamed onto another's place, a value cast or lost (BN's counters)."""
    src, sd = saved(tmp_path, "resnet50:layers=1,1,1,1,num_classes=5")  # torchvision's widths
    there = runner.invoke(
        app, ["convert", str(src), "--to", "hf", "-o", str(tmp_path / "m.safetensors")]
    )
    assert there.exit_code == 0, there.output
    assert "Proved:" in there.stdout and "bit-identical" in there.stdout
    hf = read_checkpoint(tmp_path / "m.safetensors")
    assert hf.layout == "hf" and "resnet.embedder.embedder.convolution.weight" in hf.original_keys
    back = runner.invoke(app, ["convert", str(tmp_path / "m.safetensors"), "--to", "torchvision",
                               "-o", str(tmp_path / "back.pth")])  # fmt: skip
    assert back.exit_code == 0, back.output
    same(torch.load(tmp_path / "back.pth", weights_only=True), sd)


def test_the_hf_file_has_transformers_names(tmp_path: Path) -> None:
    """Each name of the written file is one transformers' ResNetForImageClassification has
    (tests/reference/foreign/hf.json.gz, from transformers 5.25), with its shape."""
    case = next(c for c in fixture("hf")["cases"] if c["name"] == "hf-bottleneck-tiny")
    src, _ = saved(tmp_path, case["spec"])
    convert(src, Target.HF, tmp_path / "m.safetensors")
    from safetensors.torch import load_file

    written = {k: tuple(t.shape) for k, t in load_file(str(tmp_path / "m.safetensors")).items()}
    assert written == {k: tuple(v[0]) for k, v in case["keys"].items()}


# --- other ecosystems' files ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("library", "case"),
    [
        p
        for p in cases("hf", "mmpretrain", "keras", values=True)
        if p.values[1]["spec"]
        and p.values[1]["name"]
        not in ("mm-resnet50", "mm-resnetv1c50", "mm-resnetv1d50", "mm-seresnet50")
    ],
)  # fmt: skip  (the full-size MMPretrain nets have small twins here: seconds saved)
def test_a_library_file_converts_to_timm_and_loads_strictly(
    library: str, case: dict[str, Any], tmp_path: Path
) -> None:
    """The written file loads with torch's own strict load into the library's variant and holds
    the values the mapping gave. Catches a key left in the library's name, a Keras kernel left
    in HWIO, a V1d shortcut at the wrong index."""
    config = {"downsample_in_bottleneck": True} if "stride_in=1x1" in case["spec"] else None
    src = write(tmp_path, library, case, config)  # the stride has no weights: config.json says it
    done = convert(src, Target.TIMM, tmp_path / "out.pth")
    # Keras's biased convs are folded into the BN after them: the written variant has none
    written = resolve(case["spec"]).replace(conv_bias=False, bn_eps=1e-5)
    assert done.proof.proved and done.spec == written
    model = build_model(written)
    model.load_state_dict(torch.load(tmp_path / "out.pth", weights_only=True), strict=True)
    mapped = read_checkpoint(src).tensors
    folded = {k for k in mapped if k.endswith(("running_mean", "running_var"))} if library == "keras" else set()
    for key, t in model.state_dict().items():
        if key in mapped and key not in folded:
            assert torch.equal(t, mapped[key]), key


@pytest.mark.parametrize(("library", "case"), cases("keras", output=True))
def test_a_keras_file_converted_to_timm_gives_keras_output(library: str, case: dict[str, Any],
                                                           tmp_path: Path) -> None:  # fmt: skip
    """The fold is exact in eval mode: the converted weights, in the variant without conv biases
    and with eps 1e-5, give Keras's own logits (the generator's, tests/reference/foreign) to
    RTOL. Catches a bias folded with the wrong sign or into the wrong BN, and the eps left
    out (which moves the output by ~1e-8 only: checked by the spec, not here)."""
    src = write(tmp_path, library, case)
    done = convert(src, Target.TIMM, tmp_path / "out.safetensors")
    assert not done.spec.conv_bias and done.spec.bn_eps == 1e-5
    assert any("folded into the running mean" in n for n in done.notes)
    ref = decode_float32(case["output"])
    ours = our_output(build_model(done.spec), dict(read_checkpoint(tmp_path / "out.safetensors").tensors))
    assert relative_difference(ours.reshape(ref.shape), ref) < RTOL


@pytest.mark.parametrize(("library", "name", "proved"), [
    ("hf", "hf-resnet-50", True), ("mmpretrain", "mm-resnet18", True),
    ("mmpretrain", "mm-resnext50", True), ("hf", "hf-basic-tiny", False),  # widths 8..64
    ("mmpretrain", "mm-resnetv1d50-small", False), ("mmpretrain", "mm-seresnet50-small", False),
])  # fmt: skip
def test_torchvision_takes_only_what_its_resnet_builds(
    library: str, name: str, proved: bool, tmp_path: Path
) -> None:
    """torchvision.models.ResNet fixes the stem and the stage widths (only width_per_group
    and groups vary): a slim, deep-stem or SE net is refused, pointing to timm."""
    case = next(c for c in fixture(library)["cases"] if c["name"] == name)
    src = write(tmp_path, library, case)
    if proved:
        assert convert(src, Target.TORCHVISION, tmp_path / "o.pth").proof.proved
    else:
        with pytest.raises(ConversionRefused, match=r"torchvision.*use --to timm"):
            convert(src, Target.TORCHVISION, tmp_path / "o.pth")
        assert not (tmp_path / "o.pth").exists()


# --- refusals ---------------------------------------------------------------------------------
def test_se_to_hf_is_refused_in_one_line(tmp_path: Path, runner: CliRunner) -> None:
    src, _ = saved(tmp_path, "seresnet50:layers=1,1,1,1,widths=8,16,32,64,stem_width=8")
    out = runner.invoke(app, ["convert", str(src), "--to", "hf", "-o", str(tmp_path / "o.pth")])
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and "cannot hold attn=se" in out.stderr
    assert not (tmp_path / "o.pth").exists()


def test_a_source_layout_that_refuses_conversion_is_refused(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layout's ``refuses_conversion`` (the quantized one's) is said, with its reason; a
    stand-in layout here, the quantized one where it exists."""
    fake = Layout("fake-quantized", "an int8 ResNet", lambda keys: "qscale" in keys,
                  lambda t: Mapped({k: v for k, v in t.items() if k != "qscale"}, (), {}), None,
                  refuses_conversion="int8 weights with fused BatchNorm; no float layout holds them")  # fmt: skip
    monkeypatch.setattr(layouts_pkg, "LAYOUTS", (*layouts_pkg.LAYOUTS, fake))
    monkeypatch.setattr(conversion, "LAYOUTS", layouts_pkg.LAYOUTS)
    sd = build_model(resolve("resnet18:layers=1,1,1,1"), "cpu").state_dict()
    torch.save({**sd, "qscale": torch.ones(1)}, tmp_path / "q.pth")
    out = runner.invoke(
        app, ["convert", str(tmp_path / "q.pth"), "--to", "timm", "-o", str(tmp_path / "o.pth")]
    )
    assert out.exit_code == 2 and "cannot be converted: int8 weights with fused" in out.stderr


@pytest.mark.parametrize(("out", "says"), [
    ("o.txt", "-o 'o.txt': write .safetensors or .pth"),
    ("o", "not no suffix"),
    ("missing/o.pth", "does not exist"),
    ("src.pth", "is FILE itself"),
    ("link.pth", "is FILE itself"),
])  # fmt: skip
def test_a_bad_output_is_exit_2_naming_o(out: str, says: str, tmp_path: Path, runner: CliRunner,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    src, _ = saved(tmp_path, "resnet18:layers=1,1,1,1")
    (tmp_path / "link.pth").symlink_to(src)
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["convert", "src.pth", "--to", "hf", "-o", out])
    assert (
        result.exit_code == 2 and result.stderr.startswith("error: -o ") and says in result.stderr
    )
    assert src.read_bytes() == before


def test_a_failed_write_leaves_no_file_and_the_old_one_intact(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches a write straight into OUT (a half-written file) or a temporary file left over."""
    src, _ = saved(tmp_path, "resnet18:layers=1,1,1,1")
    (tmp_path / "old.pth").write_bytes(b"the old file")

    def half(path: Path, fmt: str, tensors: Any) -> None:
        path.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(conversion, "_save", half)
    for name in ("new.pth", "old.pth"):
        result = runner.invoke(
            app, ["convert", str(src), "--to", "timm", "-o", str(tmp_path / name)]
        )
        assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert not (tmp_path / "new.pth").exists()
    assert (tmp_path / "old.pth").read_bytes() == b"the old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pth", "src.pth"]


def test_a_result_that_differs_from_the_source_is_not_proved(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proof compares values, not just names: one value changed on its way to disk is
    exit 1, NOT proved. Catches a proof that only reloads names and shapes."""
    src, _ = saved(tmp_path, "resnet18:layers=1,1,1,1")
    real = conversion._save

    def off_by_one(path: Path, fmt: str, tensors: Any) -> None:
        real(path, fmt, {**tensors, "fc.bias": tensors["fc.bias"] + 1})

    monkeypatch.setattr(conversion, "_save", off_by_one)
    result = runner.invoke(
        app, ["convert", str(src), "--to", "timm", "-o", str(tmp_path / "o.pth")]
    )
    assert (
        result.exit_code == 1
        and "NOT proved: 1 tensors differ from the source's (fc.bias" in result.stdout
    )


# --- what is said -----------------------------------------------------------------------------
def test_json_says_what_where_proof_and_assumptions(tmp_path: Path, runner: CliRunner) -> None:
    case = next(c for c in fixture("mmpretrain")["cases"] if c["name"] == "mm-resnet50-small")
    src = write(tmp_path, "mmpretrain", case)
    result = runner.invoke(app, ["convert", str(src), "--to", "hf", "-o", str(tmp_path / "o.safetensors"),
                                 "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "convert" and doc["from_layout"] == "mmpretrain" and doc["to"] == "hf"
    assert (
        doc["output"] == str((tmp_path / "o.safetensors").resolve())
        and doc["file_format"] == "safetensors"
    )
    assert doc["proved"] and doc["proof"]["round_trip"] and doc["proof"]["layout_seen"] == "hf"
    assert doc["proof"]["values_equal"] == doc["proof"]["tensors"] == doc["tensors"]
    assert any(a.startswith("stride_in:") for a in doc["assumptions"])
    assert doc["expects"] == []  # MMPretrain's input is torchvision's (layouts/mmpretrain.py)


def test_a_bgr_source_says_the_weights_still_expect_bgr() -> None:
    """Keras's and Caffe2's nets keep their input after conversion (layouts' own words)."""
    from resnet_inspect.checkpoint.layouts import keras
    from resnet_inspect.checkpoint.read import Checkpoint, FileFormat

    c = Checkpoint(
        Path("m.h5"), FileFormat.HDF5, None, "", {}, layout="keras", assumptions=keras.ASSUMED
    )
    (said,) = conversion.expected_input(c)
    assert "BGR, 0-255" in said
    assert conversion.expected_input(Checkpoint(Path("m"), FileFormat.TORCH, None, "", {})) == ()


def test_hf_with_the_stride_on_the_1x1_writes_it_in_config_json(tmp_path: Path) -> None:
    """The stride has no weights: the config.json written beside OUT says it, read back as
    the reader reads one; kept in memory (no config), a note says the config must say it."""
    case = next(
        c for c in fixture("hf")["cases"] if c["name"] == "hf-bottleneck-tiny-in-bottleneck"
    )
    src = write(tmp_path, "hf", case, {"downsample_in_bottleneck": True})
    (tmp_path / "out").mkdir()
    done = convert(src, Target.HF, tmp_path / "out" / "model.safetensors")
    assert done.spec == resolve(HF_TINY + ",stride_in=1x1") and done.proof.proved
    assert done.config == (tmp_path / "out" / "config.json").resolve() and done.notes == ()
    assert json.loads(done.config.read_text())["downsample_in_bottleneck"] is True
    assert read_checkpoint(tmp_path / "out" / "model.safetensors").spec_hints == {"stride_in": "1x1"}
    assert "downsample_in_bottleneck=true" in convert(src, Target.HF).notes[0]
    assert convert(src, Target.TIMM, tmp_path / "m.pth").notes == ()


# transformers' ResNetConfig fields (configuration_resnet.py, transformers 5.25), by hand:
# resnet18 basic blocks, 64-channel stem, [2, 2, 2, 2] blocks, stage outputs 64..512 (expansion
# 1); resnet50 bottlenecks, [3, 4, 6, 3], outputs 4 x (64, 128, 256, 512), the 3x3 strided
HF_FIELDS = {
    "resnet18": {"layer_type": "basic", "depths": [2, 2, 2, 2], "hidden_sizes": [64, 128, 256, 512]},
    "resnet50": {"layer_type": "bottleneck", "depths": [3, 4, 6, 3], "hidden_sizes": [256, 512, 1024, 2048]},
}  # fmt: skip


@pytest.mark.parametrize("arch", list(HF_FIELDS))
def test_the_config_json_is_transformers_resnet_config_for_the_variant(arch: str) -> None:
    """Catches widths written without the expansion, the stem's width or the depths wrong,
    or a classifier transformers would size from its default two labels."""
    from resnet_inspect.conversion import hf_config

    spec = resolve(arch)
    config = hf_config(spec, build_model(spec, "meta").state_dict())
    assert config == {"architectures": ["ResNetForImageClassification"], "model_type": "resnet",
                      "num_channels": 3, "embedding_size": 64, **HF_FIELDS[arch], "hidden_act": "relu",
                      "downsample_in_first_stage": False, "downsample_in_bottleneck": False,
                      "id2label": {str(i): f"LABEL_{i}" for i in range(1000)},
                      "label2id": {f"LABEL_{i}": i for i in range(1000)}}  # fmt: skip
    moved = resolve(arch + ":stride_in=1x1") if arch == "resnet50" else None
    if moved is not None:
        assert hf_config(moved, build_model(moved, "meta").state_dict())["downsample_in_bottleneck"] is True


def test_a_config_json_already_there_is_kept_if_the_same_and_never_overwritten(
    tmp_path: Path, runner: CliRunner
) -> None:
    """The same content: left as it is, said. Another model's: exit 2 naming the file and the
    fields that differ, before anything is written (no weights either). Catches a silent
    overwrite of a folder's config, and a refusal that leaves OUT written."""
    src, _ = saved(tmp_path, "resnet18:layers=1,1,1,1,num_classes=5")
    out = tmp_path / "out"
    out.mkdir()
    args = ["convert", str(src), "--to", "hf", "-o", str(out / "model.safetensors"), "-f", "json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert doc["config"] == str((out / "config.json").resolve()) and doc["config_kept"] is False
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["config_kept"] is True
    other, _ = saved(tmp_path, "resnet18:layers=2,1,1,1,num_classes=5", "other.pth")
    before = (out / "config.json").read_bytes()
    refused = runner.invoke(app, ["convert", str(other), "--to", "hf", "-o", str(out / "b.safetensors")])
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: -o ") and refused.stderr.count("\n") == 1
    assert f"{str(out / 'config.json')!r} is there already and differs from this model's (depths)" in refused.stderr
    assert (out / "config.json").read_bytes() == before and not (out / "b.safetensors").exists()
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]  # no temporary left


def test_only_hf_gets_a_config_and_a_weights_name_transformers_does_not_read_is_said(
    tmp_path: Path,
) -> None:
    src, _ = saved(tmp_path, "resnet18:layers=1,1,1,1")
    (tmp_path / "a").mkdir()
    assert convert(src, Target.TIMM, tmp_path / "a" / "m.pth").config is None
    assert not (tmp_path / "a" / "config.json").exists()
    done = convert(src, Target.HF, tmp_path / "a" / "m.pth")
    assert done.config is not None and done.notes == (
        "transformers' from_pretrained(folder) reads pytorch_model.bin beside config.json; rename "
        "'m.pth' to it to load the folder",
    )


def test_the_api_keeps_the_result_in_memory(tmp_path: Path) -> None:
    src, sd = saved(tmp_path, "resnet18:layers=1,1,1,1,num_classes=7")
    r = resnet_inspect.convert(src, to="hf")
    assert r.data.output is None and r.data.proof.proved and r.to_dict()["proved"]
    assert r.data.tensors["classifier.1.weight"] is not None and "fc.weight" not in r.data.tensors
    assert torch.equal(r.data.tensors["classifier.1.weight"], sd["fc.weight"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.pth"]
    with pytest.raises(UsageError, match=r"^to 'caffe'"):
        resnet_inspect.convert(src, to="caffe")
