"""Other ecosystems' checkpoint layouts (checkpoint/layouts/): detected, mapped both ways,
identified, proved, and computing what the library computes.

Every foreign key name, shape and output here comes from the library itself:
tests/reference/foreign/<library>.json.gz, written by tests/reference/foreign/generate.py
(transformers 5.25, mmpretrain 1.2, keras 3.15 on torch, open_clip 3.3; versions in each
file). The weights are not stored: both sides regenerate them from the library's key names
(reference/foreign/schemes.py), so equal outputs mean the mapping puts every tensor where the
library has it. None of those libraries is needed here; h5py is (the test extra) for the .h5
files, and those tests skip without it.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch
from reference.foreign.schemes import foreign_state_dict
from reference.weights import decode_float32, deterministic_input
from typer.testing import CliRunner

from resnet_inspect.checkpoint import CheckpointError, read_checkpoint
from resnet_inspect.checkpoint.layouts import LAYOUTS, Mapped, detect
from resnet_inspect.cli import app
from resnet_inspect.identification.proof import identify_checkpoint
from resnet_inspect.model import build_model
from resnet_inspect.spec import FIELD_NAMES, resolve

FOREIGN = Path(__file__).parent / "reference" / "foreign"
RTOL = 1e-5  # max |ours - library| / max |library|, float32 (as tests/test_reference.py)
HF_TINY = "resnet50:layers=1,2,1,1,widths=4,8,16,32,stem_width=8,num_classes=5"  # hf-*-tiny


@cache
def fixture(library: str) -> dict[str, Any]:
    with gzip.open(FOREIGN / f"{library}.json.gz", "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


# Keras's ResNet101 and 152 differ from its ResNet50 in block counts alone (the same names,
# the same code): detected and identified, but their values are not regenerated (seconds each)
BY_KEYS_ONLY = {"keras-resnet101", "keras-resnet152"}


def cases(*libraries: str, output: bool = False, values: bool = False) -> list[Any]:
    return [pytest.param(lib, c, id=c["name"]) for lib in libraries for c in fixture(lib)["cases"]
            if (not output or "output" in c) and not ((output or values) and c["name"] in BY_KEYS_ONLY)]  # fmt: skip


ALL = ("hf", "mmpretrain", "keras", "clip")



def tensors(library: str, case: dict[str, Any]) -> dict[str, torch.Tensor]:
    return foreign_state_dict(library, {k: tuple(v) for k, v in case["keys"].items()})


def write(tmp_path: Path, library: str, case: dict[str, Any], config: dict[str, Any] | None = None,
          zeros: bool = False) -> Path:  # fmt: skip
    """The case's weights as the library's users have them on disk (``zeros``: for a test of
    names and shapes alone, which need no values)."""
    sd = ({k: torch.zeros(v[0], dtype=getattr(torch, v[1])) for k, v in case["keys"].items()} if zeros
          else tensors(library, case))  # fmt: skip
    if library == "hf":
        from safetensors.torch import save_file

        path = tmp_path / "model.safetensors"
        save_file(sd, str(path))
        if config is not None:
            (tmp_path / "config.json").write_text(json.dumps(config))
        return path
    if library == "mmpretrain":  # what mmengine's runner saves
        path = tmp_path / "epoch_100.pth"
        torch.save({"meta": {"epoch": 100, "mmpretrain_version": "1.2.0"}, "state_dict": sd}, path)
        return path
    if library == "keras":
        return write_h5(tmp_path / "model.h5", sd)
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(sd, path)
    return path


def write_h5(path: Path, sd: dict[str, torch.Tensor]) -> Path:
    """The layout Keras's model.save('x.h5') writes (the generator recorded its paths)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for key, t in sd.items():
            layer, _, variable = key.partition("/")
            f.create_dataset(f"model_weights/{layer}/{layer}/{variable}", data=t.numpy())
    return path


def relative_difference(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def our_output(model: torch.nn.Module, mapped: dict[str, torch.Tensor]) -> torch.Tensor:
    model.load_state_dict(mapped, strict=True)
    with torch.no_grad():
        out: torch.Tensor = model.eval()(deterministic_input(fixture("hf")["input"]))
    return out


# --- detection -------------------------------------------------------------------------------
@pytest.mark.parametrize(("library", "case"), cases(*ALL))
def test_each_library_file_is_detected_as_its_layout(library: str, case: dict[str, Any]) -> None:
    layout = detect(case["keys"])
    assert layout is not None and layout.name == library


def test_no_torchvision_or_timm_file_is_claimed_by_a_layout() -> None:
    """Every torchvision and timm model of tests/reference/data (their own state-dict keys, as
    the libraries wrote them) and our own layouts: read as they are, never mapped."""
    checked = 0
    for path in sorted((Path(__file__).parent / "reference" / "data").glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for entry in json.load(f)["entries"]:
                assert detect(entry["state_dict"]) is None, entry["reference"]
                checked += 1
    for name in ("resnet50", "resnet50d", "seresnet50", "legacy_seresnet50", "resnetv2_50x1_bit"):
        sd = build_model(resolve(name), "meta").state_dict()
        assert detect(sd) is None, name
        assert detect({f"backbone.{k}": v for k, v in sd.items()}) is None, name  # held as .backbone
    assert checked > 50


def test_the_library_keys_also_appear_in_the_files_it_writes() -> None:
    """The .h5 names Keras's model.save writes (recorded by the generator) read as the
    variable names the mapping expects."""
    from resnet_inspect.checkpoint.hdf5 import _name

    for case in fixture("keras")["cases"]:
        paths = case["h5_dataset_paths"]
        names = {_name(tuple(p.split("/")[1:])) for p in paths if p.startswith("model_weights/")}
        assert names == set(case["keys"]), case["name"]


# --- Keras 3's .weights.h5 ---------------------------------------------------------------------
def write_weights_h5(path: Path, case: dict[str, Any], swap: tuple[str, str] | None = None) -> Path:
    """What Keras 3's model.save_weights writes for the case (the generator recorded each
    dataset's path and the variable it holds), with the deterministic weights; ``swap``: two
    datasets' places exchanged (a file in another layer order)."""
    h5py = pytest.importorskip("h5py")
    sd = tensors("keras", case)
    where = dict(case["weights_h5"])
    if swap is not None:
        where[swap[0]], where[swap[1]] = where[swap[1]], where[swap[0]]
    with h5py.File(path, "w") as f:
        f.create_group("vars")  # the model's own (none), as Keras writes it
        f.create_group("layers/activation/vars")  # a layer without weights: an empty group
        for dataset, variable in where.items():
            f.create_dataset(dataset, data=sd[variable].numpy())
    return path


def test_a_keras3_weights_h5_is_read_identified_and_gives_keras_output(tmp_path: Path) -> None:
    """keras-resnet50's .weights.h5 (layers/conv2d_9/vars/0...) mapped by Keras's layer order:
    identified as resnet50_keras:num_classes=10, proved by a strict load, and the weights in our
    model give Keras's own logits (the fixture's, RTOL). Catches the projection (_0) and the
    last 1x1 (_3) of a first block taken in the other order: in conv2_block1 both are
    1x1x64x256, so only the output tells."""
    case = fixture("keras")["cases"][0]
    checkpoint = read_checkpoint(write_weights_h5(tmp_path / "model.weights.h5", case))
    assert checkpoint.format.value == "hdf5" and checkpoint.layout == "keras"
    # said as a Keras 3 file, and that its names are a class and a count: the order is assumed
    assert checkpoint.ecosystem == "a Keras 3 .weights.h5 of a Keras applications ResNet (v1)"
    assert [a for a in checkpoint.assumptions if a.startswith("layer names: ")]
    ident = identify_checkpoint(checkpoint)
    assert ident.proved and ident.identified.spec == resolve("resnet50_keras:num_classes=10")
    model = build_model(resolve("resnet50_keras:num_classes=10"))
    model.load_state_dict(dict(checkpoint.tensors), strict=False)  # Keras has no num_batches_tracked
    with torch.no_grad():
        ours = model.eval()(deterministic_input(fixture("keras")["input"]))
    assert relative_difference(ours, decode_float32(case["output"])) < RTOL


@pytest.mark.parametrize(("library", "case"), cases("keras"))
def test_every_keras3_dataset_maps_to_the_keras_variable_it_holds(library: str, case: dict[str, Any]) -> None:
    """ResNet50, 101 and 152: each dataset's Keras name, by the layer order, is the variable
    Keras saved there (the generator found it by value). Catches a counter read off by one
    or a block boundary misread in the deeper nets."""
    from resnet_inspect.checkpoint.layouts.keras import keras2_names

    held = {k: torch.empty(v[0], device="meta") for k, v in case["keys"].items()}  # one object per variable
    named = keras2_names({dataset: held[variable] for dataset, variable in case["weights_h5"].items()})
    assert len(named) == len(held) and all(named[name] is held[name] for name in held)


def test_a_keras3_file_in_another_layer_order_is_refused(tmp_path: Path, runner: CliRunner) -> None:
    """conv3_block1's projection (_0, 1x1x256x512) and first 1x1 (_1, 1x1x256x128) saved in
    each other's place: the shapes contradict Keras's order; one line, exit 2, nothing guessed."""
    case = fixture("keras")["cases"][0]
    by_variable = {v: d for d, v in case["weights_h5"].items()}
    swap = (by_variable["conv3_block1_0_conv/kernel"], by_variable["conv3_block1_1_conv/kernel"])
    path = write_weights_h5(tmp_path / "odd.weights.h5", case, swap)
    with pytest.raises(CheckpointError, match="not the layer order Keras applications' ResNet saves"):
        read_checkpoint(path)
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output


def test_a_keras3_file_converts_to_timm_and_loads_strictly(tmp_path: Path) -> None:
    """convert reads it as any Keras file: conv biases folded into the BatchNorms, proved."""
    from resnet_inspect.conversion import Target, convert

    case = fixture("keras")["cases"][0]
    done = convert(write_weights_h5(tmp_path / "model.weights.h5", case), Target.TIMM, tmp_path / "m.pth")
    assert done.proof.proved and done.source_layout == "keras"
    assert any("BGR" in e for e in done.expects)


# --- near misses and hostile keys ---------------------------------------------------------------
NEAR_MISSES = [
    (
        "hf",
        "resnet.encoder.stages.0.layers.0.attention.weight",
        "not one of that layout's ResNet names",
    ),
    ("mmpretrain", "backbone.layer1.0.gate.weight", "not one of that layout's ResNet names"),
    ("mmpretrain", "head.layers.head.weight", "a ResNet's head is head.fc"),
    ("clip", "visual.transformer.resblocks.0.weight", "not one of that layout's ResNet names"),
]


@pytest.mark.parametrize(("library", "extra", "says"), NEAR_MISSES, ids=[n[1] for n in NEAR_MISSES])
def test_a_near_miss_is_refused_in_one_line_naming_the_key(
    tmp_path: Path, runner: CliRunner, library: str, extra: str, says: str
) -> None:
    case = fixture(library)["cases"][0]
    sd = {**tensors(library, case), extra: torch.zeros(2)}
    path = tmp_path / "near.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=says) as exc:
        read_checkpoint(path)
    assert repr(extra) in str(exc.value)
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and repr(extra) in lines[0]


def test_a_key_with_terminal_escapes_is_shown_escaped(tmp_path: Path, runner: CliRunner) -> None:
    sd = {
        **tensors("hf", fixture("hf")["cases"][0]),
        "resnet.\x1b[2J\x1b]0;pwned\x07": torch.zeros(1),
    }
    path = tmp_path / "escape.pth"
    torch.save(sd, path)
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[2J" in result.stderr


def test_keras_resnet_v2_is_refused_as_pre_activation() -> None:
    """ResNet50V2 shares conv1_conv with v1 (so the layout claims it) but is pre-activation."""
    keys = {
        "conv1_conv/kernel": torch.zeros(7, 7, 3, 64),
        "conv2_block1_preact_bn/gamma": torch.zeros(64),
    }
    layout = detect(keys)
    assert layout is not None
    with pytest.raises(CheckpointError.__mro__[1], match="ResNet50V2's pre-activation"):
        layout.to_ours(keys)


# --- both ways --------------------------------------------------------------------------------
@pytest.mark.parametrize(("library", "case"), cases(*ALL, values=True))
def test_mapping_there_and_back_gives_the_file_again(library: str, case: dict[str, Any]) -> None:
    """to_ours then from_ours: every key and value back (Keras's kernels transposed twice);
    MMPretrain's V1d shortcut indices shifted and back. Each tensor is filled with its own
    index, so two swapped tensors differ in value, and a kernel left HWIO in shape."""
    layout = detect(case["keys"])
    assert layout is not None and layout.from_ours is not None
    sd = {k: torch.full(shape, float(i), dtype=getattr(torch, dtype))
          for i, (k, (shape, dtype)) in enumerate(case["keys"].items())}  # fmt: skip
    mapped = layout.to_ours(sd)
    spec = _spec_for(library, case, mapped)
    back = layout.from_ours(mapped.tensors, spec)
    expected = {k: v for k, v in sd.items() if k not in mapped.unused}
    if case["name"] == "hf-detr-backbone-tiny":  # written back as a ResNetBackbone alone
        expected = {k.removeprefix("model.backbone.model."): v for k, v in expected.items()}
    assert sorted(back) == sorted(expected)
    assert all(torch.equal(back[k], v) for k, v in expected.items())


def _spec_for(library: str, case: dict[str, Any], mapped: Mapped) -> Any:
    if library == "keras":  # what H5's resnet*_keras presets say, in the fields there are
        fields = {"stride_in": "1x1", "conv_bias": True, "bn_eps": 1.001e-5, "num_classes": 10}
        depth = case["name"].removeprefix("keras-")
        return resolve(depth).replace(**{k: v for k, v in fields.items() if k in FIELD_NAMES})
    if library == "clip":
        return None  # from_ours needs no spec when the tower's own names come back
    if case["name"] in ("hf-model-tiny", "hf-backbone-tiny", "hf-detr-backbone-tiny"):
        return resolve(case["spec"])  # headless: ResNetModel's names, no resnet. prefix
    from resnet_inspect.identification.weights import identify_shapes

    spec = identify_shapes({k: tuple(t.shape) for k, t in mapped.tensors.items()}).spec
    return spec.replace(stride_in="1x1") if "in-bottleneck" in case["name"] else spec


def test_from_ours_refuses_what_the_layout_cannot_hold() -> None:
    from resnet_inspect.checkpoint.layouts import LayoutError, hf, keras, mmpretrain

    sd = build_model(resolve("resnet50d"), "meta").state_dict()
    with pytest.raises(LayoutError, match="cannot hold stem=deep"):
        hf.from_ours(sd, resolve("resnet50d"))
    with pytest.raises(LayoutError, match="stride_in=1x1"):  # Keras strides the 1x1
        keras.from_ours(build_model(resolve("resnet50"), "meta").state_dict(), resolve("resnet50"))
    with pytest.raises(LayoutError, match="stem"):
        mmpretrain.from_ours(sd, resolve("resnet50t"))


# --- identify ----------------------------------------------------------------------------------
ECOSYSTEM = {
    "hf": "a Hugging Face transformers ResNetForImageClassification checkpoint",
    "mmpretrain": "an MMPretrain (mmcls) ResNet checkpoint",
    "keras": "a Keras applications ResNet (v1) .h5 file",
    "clip": "an OpenAI CLIP / open_clip ModifiedResNet image tower",
    # no classifier: a headless net (num_classes=0); the two classes have the same keys
    "hf-model-tiny": "a Hugging Face transformers ResNetModel or ResNetBackbone checkpoint",
    "hf-backbone-tiny": "a Hugging Face transformers ResNetModel or ResNetBackbone checkpoint",
    # the detector's 55 keys of its own (transformer, queries, heads) are left out
    "hf-detr-backbone-tiny": "a Hugging Face transformers ResNetBackbone inside a larger model "
                             "(under 'model.backbone.model.'); its 55 other keys are not part of "
                             "the ResNet and were left out",
}


@pytest.mark.parametrize(("library", "case"), cases(*ALL))
def test_identify_names_the_variant_and_the_ecosystem_and_proves_it(
    tmp_path: Path, library: str, case: dict[str, Any]
) -> None:
    """identify on the file as the library's users have it: the ecosystem, our spec for the
    library's constructor (the generator's hand-written claim), and a strict load."""
    config = {"downsample_in_bottleneck": True} if "in-bottleneck" in case["name"] else None
    checkpoint = read_checkpoint(write(tmp_path, library, case, config, zeros=True))
    ident = identify_checkpoint(checkpoint)
    assert checkpoint.layout == library
    assert (checkpoint.ecosystem or "").startswith(ECOSYSTEM.get(case["name"], ECOSYSTEM[library]))
    if case["spec"]:
        assert ident.identified.spec == resolve(case["spec"]), ident.identified.spec_string
    assert ident.proved, ident.load_error


def test_hf_stride_comes_from_config_json_and_is_said(tmp_path: Path) -> None:
    """downsample_in_bottleneck decides stride_in: with the config, a fact with its source;
    without it, transformers' default, said as an assumption."""
    case = next(
        c for c in fixture("hf")["cases"] if c["name"] == "hf-bottleneck-tiny-in-bottleneck"
    )
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    told = identify_checkpoint(
        read_checkpoint(write(tmp_path / "with", "hf", case, {"downsample_in_bottleneck": True}))
    )
    untold = identify_checkpoint(read_checkpoint(write(tmp_path / "without", "hf", case)))
    assert told.identified.spec.stride_in.value == "1x1"
    assert [e.because for e in told.identified.evidence if e.field == "stride_in"] == [
        "config.json beside the file"
    ]
    assert not any(a.startswith("stride_in") for a in told.identified.assumptions)
    assert untold.identified.spec.stride_in.value == "3x3"
    stride = [a for a in untold.identified.assumptions if a.startswith("stride_in")]
    assert len(stride) == 1 and "downsample_in_bottleneck=false" in stride[0]


def test_identify_cli_says_the_ecosystem_and_the_mapping(tmp_path: Path, runner: CliRunner) -> None:
    case = fixture("mmpretrain")["cases"][0]
    path = write(tmp_path, "mmpretrain", case)
    result = runner.invoke(app, ["identify", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "Mapped from an MMPretrain (mmcls) ResNet checkpoint to this tool's names" in result.stdout
    assert "mapped from the mmpretrain layout" in result.stdout
    assert "style='pytorch'" in result.stdout  # its stride assumption, not torchvision's
    data = json.loads(runner.invoke(app, ["identify", str(path), "-f", "json"]).stdout)
    assert data["checkpoint"]["layout"] == "mmpretrain" and data["proved"] is True
    assert data["spec_string"] == "resnet18:num_classes=10"


# --- outputs: the mapped weights compute what the library computed -----------------------------
@pytest.mark.parametrize(("library", "case"), cases("hf", "mmpretrain", "clip", output=True))
def test_mapped_weights_give_the_library_output(
    tmp_path: Path, library: str, case: dict[str, Any]
) -> None:
    """Read from the file as written, identified, built, loaded strictly: our output on the
    deterministic input equals the library's (the generator's) to RTOL."""
    config = {"downsample_in_bottleneck": True} if "in-bottleneck" in case["name"] else None
    checkpoint = read_checkpoint(write(tmp_path, library, case, config))
    spec = (
        identify_checkpoint(checkpoint).identified.spec
        if library == "clip"
        else resolve(case["spec"])
    )
    model = build_model(spec)  # hf-model-tiny: num_classes=0, the pooled features (pooler_output)
    ours = our_output(model, dict(checkpoint.tensors))
    ref = decode_float32(case["output"])
    assert relative_difference(ours.reshape(ref.shape), ref) < RTOL


@pytest.mark.parametrize(("library", "case"), cases("keras", output=True))
def test_mapped_keras_weights_give_keras_output(library: str, case: dict[str, Any]) -> None:
    """Keras's ResNet50/101/152 (channels last, every conv with a bias, BN eps 1.001e-5, the
    stride on the 1x1): the mapped weights in our resnet*_keras give Keras's logits."""
    mapped = dict(detect(case["keys"]).to_ours(tensors(library, case)).tensors)  # type: ignore[union-attr]
    depth = case["name"].removeprefix("keras-")
    model = build_model(resolve(f"{depth}_keras:num_classes=10"))
    model.load_state_dict(mapped, strict=False)  # Keras has no num_batches_tracked
    with torch.no_grad():
        ours = model.eval()(deterministic_input(fixture("keras")["input"]))
    assert relative_difference(ours, decode_float32(case["output"])) < RTOL


# --- check, --weights ----------------------------------------------------------------------------
def test_check_and_weights_say_the_mapping(tmp_path: Path, runner: CliRunner) -> None:
    case = fixture("hf")["cases"][0]
    path = write(tmp_path, "hf", case)
    result = runner.invoke(app, ["check", case["spec"], str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert (
        "Mapped from a Hugging Face transformers ResNetForImageClassification checkpoint"
        in result.stdout
    )
    assert "loads strictly" in result.stdout
    result = runner.invoke(app, ["summary", case["spec"], "--weights", str(path), "--input", "1x3x32x32"],
                           env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Mapped from a Hugging Face" in result.stdout


def test_bench_loads_a_mapped_file_and_says_so(tmp_path: Path, runner: CliRunner) -> None:
    """bench --weights loads the mapped tensors into the real model (strictly) and says where
    they came from in one note line."""
    case = next(c for c in fixture("mmpretrain")["cases"] if c["name"] == "mm-resnetv1d50-small")
    path = write(tmp_path, "mmpretrain", case)
    args = ["bench", case["spec"], "--input", "1x3x32x32", "--min-time", "0.02", "--warmup", "0.01",
            "--threads", "1", "--weights", str(path)]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    notes = [ln for ln in result.stdout.splitlines() if "mapped from" in ln]
    assert notes == ["Weights: mapped from an MMPretrain (mmcls) ResNet checkpoint to this tool's names "
                     "(identify says what that layout assumes)"]  # fmt: skip


def test_a_full_clip_model_keeps_the_image_tower_and_lists_the_rest() -> None:
    case = next(c for c in fixture("clip")["cases"] if c["name"] == "clip-rn50-full")
    mapped = detect(case["keys"]).to_ours({k: torch.empty(0) for k in case["keys"]})  # type: ignore[union-attr]
    assert all(not k.startswith("visual.") for k in mapped.unused)
    assert {"token_embedding.weight", "text_projection", "logit_scale"} <= set(mapped.unused)
    assert len(mapped.tensors) + len(mapped.unused) == len(case["keys"])
    assert "attnpool.c_proj.weight" in mapped.tensors


# --- config.json: data, never trusted ------------------------------------------------------------
def _hf_identify(tmp_path: Path, config_text: str | None = None, size: int | None = None) -> Any:
    case = fixture("hf")["cases"][0]
    path = write(tmp_path, "hf", case)
    config = tmp_path / "config.json"
    if config_text is not None:
        config.write_text(config_text)
    if size is not None:  # a sparse file: the size without the bytes
        with config.open("wb") as f:
            f.truncate(size)
    return identify_checkpoint(read_checkpoint(path))


def test_a_contradicting_config_is_one_line_and_the_weights_win(tmp_path: Path) -> None:
    ident = _hf_identify(tmp_path, json.dumps({"depths": [3, 4, 6, 3], "layer_type": "bottleneck",
                                               "hidden_sizes": [16, 32, 64, 128], "id2label": {"0": "a"},
                                               "some_future_field": {"x": 1}}))  # fmt: skip
    notes = ident.checkpoint.notes
    assert len(notes) == 2, notes
    assert "depths=[3, 4, 6, 3] contradicts the weights, which show [1, 2, 1, 1]" in notes[0]
    assert "id2label has 1 labels, but the classifier has 5 outputs" in notes[1]
    assert ident.identified.spec == resolve(fixture("hf")["cases"][0]["spec"]) and ident.proved


@pytest.mark.parametrize(("text", "size", "says"), [
    (None, 1 << 30, "not read: 1,073,741,824 bytes"),
    ("{not json", None, "not read: not valid JSON"),
    ("[1, 2]", None, "not read: not a JSON object"),
    ("[" * 100_000, None, "not read"),
])  # fmt: skip
def test_an_odd_config_is_a_note_not_a_failure(
    tmp_path: Path, text: str | None, size: int | None, says: str
) -> None:
    ident = _hf_identify(tmp_path, text, size)
    assert ident.proved
    assert len(ident.checkpoint.notes) == 1 and says in ident.checkpoint.notes[0]


# --- .h5: data only ---------------------------------------------------------------------------
def test_a_keras_h5_file_is_read_and_identified(tmp_path: Path) -> None:
    case = fixture("keras")["cases"][0]
    checkpoint = read_checkpoint(write(tmp_path, "keras", case))
    assert checkpoint.format.value == "hdf5" and checkpoint.layout == "keras"
    assert checkpoint.tensors["conv1.weight"].shape == (64, 3, 7, 7)  # HWIO (7,7,3,64) to OIHW
    assert checkpoint.tensors["fc.weight"].shape == (10, 2048)
    assert checkpoint.spec_hints["stride_in"] == "1x1"


def _h5(tmp_path: Path, build: Any) -> Path:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        build(f, h5py)
    return path


@pytest.mark.parametrize(("build", "says"), [
    (lambda f, h5py: f.create_dataset("conv1_conv/conv1_conv/kernel", data=["a", "b"], dtype=h5py.string_dtype()),
     "holds object data, not numbers"),
    (lambda f, h5py: f.__setitem__("conv1_conv", h5py.ExternalLink("/etc/passwd", "/")), "link to another file"),
    (lambda f, h5py: f.create_dataset("layers/conv2d/vars/0", data=[1.0]),
     "Keras 3 .weights.h5 .*: 1 convs but 0 BatchNorms"),
    (lambda f, h5py: f.create_dataset("w", shape=(1 << 27,), dtype="f4", compression="gzip",
                                      fillvalue=0.0, chunks=(1 << 20,)), "more than the file's"),
])  # fmt: skip
def test_an_odd_h5_file_is_refused_in_one_line(
    tmp_path: Path, runner: CliRunner, build: Any, says: str
) -> None:
    path = _h5(tmp_path, build)
    with pytest.raises(CheckpointError, match=says):
        read_checkpoint(path)
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output


def test_a_truncated_h5_file_is_refused(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "t.h5", {"conv1_conv/kernel": torch.zeros(7, 7, 3, 64)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(path)


def test_without_h5py_an_h5_file_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)
    with pytest.raises(CheckpointError, match=r"needs h5py: pip install 'resnet-inspect\[keras\]'"):
        read_checkpoint(path)


def test_a_torchscript_archive_is_named_not_called_corrupt(tmp_path: Path) -> None:
    """OpenAI's CLIP downloads are TorchScript: code, refused for what it is."""
    path = tmp_path / "RN50.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    with pytest.raises(CheckpointError, match="is a TorchScript archive") as exc:
        read_checkpoint(path)
    assert "corrupt" not in str(exc.value)


def test_every_layout_has_its_fixture() -> None:
    assert {layout.name for layout in LAYOUTS} >= set(ALL)
    assert all(os.path.exists(FOREIGN / f"{name}.json.gz") for name in ALL)
