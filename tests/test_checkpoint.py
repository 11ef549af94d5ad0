"""Checkpoints: reading every layout as data, refusing code, comparing, identifying, loading.

Checkpoints are saved by our own builder with tiny widths (kilobytes, in tmp_path); the
identification of full-size presets runs on meta-device state_dicts, which cost nothing.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect.checkpoint import (
    NESTING_KEYS,
    CheckpointError,
    FileFormat,
    WeightsMismatch,
    compare_shapes,
    expected_shapes,
    load_weights_into,
    read_checkpoint,
    verify_weights,
)
from resnet_inspect.cli import app
from resnet_inspect.errors import SpecError
from resnet_inspect.identification import IdentifyError, identify_shapes
from resnet_inspect.identification.proof import identify_checkpoint
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, ResNetSpec, resolve

TINY = "widths=8,16,32,64,stem_width=8,num_classes=5"
TINY50D = f"resnet50d:{TINY}"  # timm's layout: deep stem conv1.0/.3/.6, downsample.1 conv
TINY50 = f"resnet50:{TINY}"  # torchvision's layout: downsample.0 conv, downsample.1 norm


def state_dict(arch: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_model(resolve(arch)).state_dict()


def save(path: Path, obj: Any) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(obj, str(path))
    else:
        torch.save(obj, path)
    return path


def one_error_line(result: Any) -> str:
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


# --- reading: formats, nesting, prefixes -------------------------------------------------------
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin", ".safetensors"])
def test_every_format_reads_back_the_same_tensors(tmp_path: Path, suffix: str) -> None:
    sd = state_dict("resnet18:" + TINY)
    ckpt = read_checkpoint(save(tmp_path / f"w{suffix}", sd))
    assert ckpt.format is (FileFormat.SAFETENSORS if suffix == ".safetensors" else FileFormat.TORCH)
    assert sorted(ckpt.tensors) == sorted(sd)
    assert all(torch.equal(ckpt.tensors[k], v) for k, v in sd.items())


def test_legacy_torch_format_reads_without_mmap(tmp_path: Path) -> None:
    sd = state_dict("resnet18:" + TINY)
    path = tmp_path / "old.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    ckpt = read_checkpoint(path)
    assert ckpt.format is FileFormat.TORCH_LEGACY
    assert torch.equal(ckpt.tensors["fc.weight"], sd["fc.weight"])


def test_format_is_sniffed_not_taken_from_the_extension(tmp_path: Path) -> None:
    path = save(tmp_path / "w.safetensors", state_dict("resnet18:" + TINY))
    renamed = path.rename(tmp_path / "w.bin")
    assert read_checkpoint(renamed).format is FileFormat.SAFETENSORS


@pytest.mark.parametrize("key", NESTING_KEYS)
def test_training_checkpoints_nest_the_state_dict(tmp_path: Path, key: str) -> None:
    sd = state_dict("resnet18:" + TINY)
    ckpt = read_checkpoint(save(tmp_path / "train.pth", {"epoch": 7, "lr": 0.1, key: sd}))
    assert ckpt.nested_key == key and sorted(ckpt.tensors) == sorted(sd)


def test_model_weights_win_over_the_ema_copy(tmp_path: Path) -> None:
    sd, ema = state_dict("resnet18:" + TINY), state_dict("resnet34:" + TINY)
    ckpt = read_checkpoint(save(tmp_path / "t.pth", {"state_dict_ema": ema, "state_dict": sd}))
    assert ckpt.nested_key == "state_dict" and len(ckpt.tensors) == len(sd)


def test_timm_style_checkpoint_with_argparse_namespace_loads(tmp_path: Path) -> None:
    import argparse

    obj = {"arch": "resnet50d", "state_dict": state_dict(TINY50D),
           "args": argparse.Namespace(lr=0.1, epochs=3)}  # fmt: skip
    ident = identify_checkpoint(read_checkpoint(save(tmp_path / "timm.pth.tar", obj)))
    assert ident.proved and ident.identified.spec == resolve(TINY50D)


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_wrapper_prefixes_are_stripped(tmp_path: Path, prefix: str) -> None:
    sd = state_dict("resnet18:" + TINY)
    wrapped = {prefix + k: v for k, v in sd.items()}
    ckpt = read_checkpoint(save(tmp_path / "ddp.pth", {"model": wrapped}))
    assert ckpt.stripped_prefix == prefix and sorted(ckpt.tensors) == sorted(sd)


# --- safety ---------------------------------------------------------------------------------------
class _RunsCode:
    """Unpickling this would create a marker file: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_pickle_that_runs_code_is_refused_not_executed(
    tmp_path: Path, runner: CliRunner, writer: str
) -> None:
    marker = tmp_path / "PWNED"
    payload = {"state_dict": {"conv1.weight": torch.zeros(1)}, "x": _RunsCode(marker)}
    path = tmp_path / "evil.pth"
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with path.open("wb") as f:
            pickle.dump(payload, f, protocol=2)  # torch.save's protocol
    assert not marker.exists()  # saving does not run it
    with pytest.raises(CheckpointError, match="refused"):
        read_checkpoint(path)
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "refused" in line and "would import" in line and "never runs code" in line
    assert not marker.exists()


# --- bad files: one line, no traceback -----------------------------------------------------------
def _truncated(tmp_path: Path, suffix: str) -> Path:
    full = save(tmp_path / f"full{suffix}", state_dict("resnet18:" + TINY))
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_FILES = {
    "missing": (lambda p: p / "nope.pth", "no such file"),
    "directory": (lambda p: p, "is a directory"),
    "empty": (lambda p: _write(p / "e.pth", b""), "is empty"),
    "truncated zip": (lambda p: _truncated(p, ".pth"), "truncated or corrupt"),
    "truncated safetensors": (lambda p: _truncated(p, ".safetensors"), "truncated or corrupt"),
    "text": (lambda p: _write(p / "t.pth", b"not a checkpoint\n"), "corrupt"),
    "a list": (lambda p: save(p / "l.pth", [1, 2, 3]), "holds a list"),
    "no tensors": (lambda p: save(p / "d.pth", {"epoch": 1, "best": 0.5}), "no state_dict in it"),
    "empty dict": (lambda p: save(p / "d.pth", {}), "empty dict"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_unreadable_files_are_one_line_exit_2(tmp_path: Path, runner: CliRunner, case: str) -> None:
    make, fragment = BAD_FILES[case]
    path = make(tmp_path)
    for args in (["identify", str(path)], ["check", "resnet18", str(path)],
                 ["summary", "resnet18", "--weights", str(path)]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        line = one_error_line(result)
        assert fragment in line and str(path) in line


# --- comparing ------------------------------------------------------------------------------------
def test_compare_sorts_every_key_into_one_outcome() -> None:
    expected = {"conv1.weight": (8, 3, 7, 7), "bn1.num_batches_tracked": (), "fc.weight": (5, 64),
                "fc.bias": (5,)}  # fmt: skip
    found = {"conv1.weight": (8, 3, 7, 7), "fc.weight": (10, 64), "head.weight": (3,)}
    r = compare_shapes(expected, found)
    assert r.matching == ("conv1.weight",)
    assert r.missing == ("fc.bias",)
    assert r.unexpected == ("head.weight",)
    assert [(m.key, m.expected, m.found) for m in r.mismatched] == [("fc.weight", (5, 64), (10, 64))]
    assert r.tolerated == ("bn1.num_batches_tracked",)
    assert not r.loads_strictly


def test_old_torchvision_checkpoints_without_num_batches_tracked_load(tmp_path: Path) -> None:
    sd = {k: v for k, v in state_dict(TINY50).items() if not k.endswith("num_batches_tracked")}
    ckpt = read_checkpoint(save(tmp_path / "tv.pth", sd))
    ident = identify_checkpoint(ckpt)
    assert ident.proved and ident.identified.spec == resolve(TINY50)


# --- identifying ----------------------------------------------------------------------------------
def meta_shapes(spec: ResNetSpec) -> dict[str, tuple[int, ...]]:
    return expected_shapes(spec)


# weights cannot show anti-aliasing: these presets load strictly into their plain twins
ANTI_ALIASED_TWINS = {
    "resnetblur18": "resnet18", "resnetblur50": "resnet50", "resnetblur50d": "resnet50d",
    "resnetblur101d": "resnet101d", "resnetaa34d": "resnet34d", "resnetaa50": "resnet50",
    "resnetaa50d": "resnet50d", "resnetaa101d": "resnet101d", "seresnetaa50d": None,
    "seresnextaa101d_32x8d": "seresnext101d_32x8d", "seresnextaa201d_32x8d": None,
}  # fmt: skip


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_identifies_as_itself(name: str) -> None:
    """Up to what weights cannot show (anti-aliasing, the place of ResNeSt's avd pool; a Keras
    net's stride and eps, which a Keras file's layout supplies), which identify names as
    assumed. CLIP's layout implies CLIP's average pools (aa=avg): its presets come back whole."""
    preset = PRESETS[name]
    found = identify_shapes(meta_shapes(preset))
    clip = preset.layout.value == "clip"
    # what the weights cannot show is the published preset's where exactly one fits (ResNeSt's
    # avd_first); anti-aliasing has several fits (resnet50, resnetaa50, resnetblur50): none
    alone = ANTI_ALIASED_TWINS.get(name, "") is None  # no plain twin: the published one is taken
    expected = preset if clip or alone else preset.replace(aa="none")
    if preset.conv_bias:
        expected = expected.replace(stride_in="3x3", bn_eps=1e-5)
    assert found.spec == expected
    if preset.conv_bias:
        assert found.spec_string == name.removesuffix("_keras") + ":conv_bias=true"
        assert any(a.startswith("bn_eps: ") for a in found.assumptions)
    elif clip:
        assert found.preset == name
        assert not any(a.startswith("aa: ") for a in found.assumptions)
        # q, k and v are whole projections: the head count is not in the weights, and is said
        attention = preset.head.value == "attn"
        assert any(a.startswith("heads: ") for a in found.assumptions) == attention
    elif preset.avd_first:  # the only published model with these shapes pools first
        assert found.preset == name
        said = [a for a in found.assumptions if a.startswith("avd_first: ")]
        assert len(said) == 1 and f"only published model with these shapes ({name})" in said[0]
        assert "avd_first=false would load as well" in said[0]
    elif preset.aa.value == "none":
        assert found.preset == name
    elif alone:  # seresnetaa50d: no plain preset has its shapes; its anti-aliasing is said
        assert found.preset == name
        assert any(a.startswith("aa: ") and f"({name}) has it" in a for a in found.assumptions)
    else:
        assert found.preset == ANTI_ALIASED_TWINS[name]
        assert any(a.startswith("aa: ") and "assumed none" in a for a in found.assumptions)


@pytest.mark.parametrize("arch", [
    "res2net50_26w_4s:scale=1",  # one split conv, of the whole first conv's output
    "res2net50_26w_4s:scale=2,layers=1,1",  # one split conv too: scale 1 and 2 differ by conv1
    "res2next50:scale=7,shortcut=C,layers=2,1",  # every block projects (no hierarchy at all)
    "res2net50d:norm=group,width_per_group=32,layers=1,2",
])  # fmt: skip
def test_res2net_variants_identify_as_themselves(arch: str) -> None:
    """scale is read from conv1 over one split's channels, not from the number of split convs
    (max(1, scale - 1): scale 1 and 2 both have one)."""
    spec = resolve(arch)
    found = identify_shapes(meta_shapes(spec))
    assert found.spec == spec
    # what a res2net block cannot have is not listed as assumed
    assert not [a for a in found.assumptions if a.startswith(("stride_in", "aa"))]


def test_res2net_with_a_split_conv_missing_is_not_identified() -> None:
    shapes = meta_shapes(PRESETS["res2net50_26w_4s"])
    del shapes["layer1.0.convs.2.weight"]
    with pytest.raises(IdentifyError, match="scale"):
        identify_shapes(shapes)


def test_an_anti_aliased_checkpoint_is_not_claimed_as_proved_plain() -> None:
    """resnetaa50d's weights load strictly into resnet50d, which computes something else: the
    report says what the load proves, and lists anti-aliasing as unseen."""
    found = identify_shapes(meta_shapes(PRESETS["resnetaa50d"]))
    assert found.preset == "resnet50d"
    assert [a for a in found.assumptions if a.startswith("aa:")]
    assert [a for a in found.assumptions if a.startswith("drop_path:")]
    assert found.twins == ("resnetblur50d", "resnetaa50d")


@pytest.mark.parametrize(("classes", "chans"), [(10, 3), (0, 3), (5, 1)])
def test_a_fine_tuned_or_headless_file_still_names_its_twins(classes: int, chans: int) -> None:
    """A resnetaa50d fine-tuned to 10 classes (or without its classifier, or on grey-scale
    input) loads as strictly into resnetblur50d and resnetaa50d with that head and those
    channels as the plain one does: the twins are named with them (before: none at all, as
    the presets' own 1000-class heads were compared). Catches the head compared, or the
    twins named without the fields they need to load."""
    spec = PRESETS["resnetaa50d"].replace(num_classes=classes, in_chans=chans)
    found = identify_shapes(meta_shapes(spec))
    extra = ",".join(f for f in (f"num_classes={classes}", f"in_chans={chans}" if chans != 3 else "") if f)
    assert found.twins == (f"resnetblur50d:{extra}", f"resnetaa50d:{extra}")


def test_identify_names_the_anti_aliased_twins(runner: CliRunner, tmp_path: Path) -> None:
    path = save(tmp_path / "aa.pth", state_dict("resnetaa34d"))
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "Preset: resnet34d" in out and "aa: anti-aliasing" in out
    assert "The same weights load strictly into resnetaa34d" in out


@st.composite
def specs(draw: st.DrawFn) -> ResNetSpec:
    stages = draw(st.integers(1, 4))
    block = draw(st.sampled_from(["basic", "bottleneck", "resnest"]))
    fields: dict[str, Any] = dict(
        block=block,
        layers=tuple(draw(st.lists(st.integers(1, 3), min_size=stages, max_size=stages))),
        widths=tuple(draw(st.lists(st.sampled_from([4, 8, 16, 32]), min_size=stages, max_size=stages))),
        stem=draw(st.sampled_from(["classic", "deep", "cifar"])),
        stem_width=draw(st.sampled_from([4, 8, 16])),
        avg_down=draw(st.booleans()),
        shortcut=draw(st.sampled_from(["A", "B", "C"])),
        norm=draw(st.sampled_from(["batch", "batch", "none", "group"])),
        num_classes=draw(st.integers(1, 12)),
        in_chans=draw(st.integers(1, 4)),
        stride_in=draw(st.sampled_from(["3x3", "1x1"])) if block == "bottleneck" else "3x3",
        replace_stride_with_dilation=tuple(draw(st.lists(st.booleans(), min_size=stages - 1,
                                                         max_size=stages - 1))),
    )
    if block != "basic":
        fields["groups"] = draw(st.sampled_from([1, 2, 4]))
        fields["width_per_group"] = draw(st.sampled_from([16, 32, 64, 128]))
    if block == "resnest":  # with avd after the 3x3, as identify assumes
        fields.update(radix=draw(st.sampled_from([1, 2, 4])), avd=True, stride_in="3x3")
    try:
        return ResNetSpec(**fields)
    except SpecError:
        assume(False)
        raise


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs())
def test_random_specs_identify_back_to_an_equal_spec(spec: ResNetSpec) -> None:
    shapes = meta_shapes(spec)
    found = identify_shapes(shapes).spec
    # what weights can show comes back exactly ...
    assert meta_shapes(found) == shapes
    for name in ("block", "layers", "widths", "groups", "stem", "stem_width", "norm",
                 "num_classes", "in_chans", "radix"):  # fmt: skip
        assert getattr(found, name) == getattr(spec, name), name
    # ... and what they cannot show is the default (dilation shows only where it removes a
    # projection; shortcut and avg_down only through the projections, covered by the shapes)
    assert (found.stride_in.value, found.zero_init_residual) == ("3x3", False)


def test_a_resnest_checkpoint_shows_its_radix_and_groups() -> None:
    """resnest50d_4s2x40d: conv2.conv has 4 branches of 2 x 40 channels (2 x 4 groups, each
    reading 80 / 8 = 10 inputs), fc1 2 groups; the avd pool's place is not in the weights: it
    is assumed as the one published model with these shapes has it (before the 3x3), and said."""
    found = identify_shapes(meta_shapes(PRESETS["resnest50d_4s2x40d"]))
    evidence = {e.field: (e.value, e.because) for e in found.evidence}
    assert evidence["block"][0] == "resnest" and "conv2.conv" in evidence["block"][1]
    assert evidence["radix"] == ("4", "layer1.0.conv2.conv.weight 320x10x3x3: 4 branches of 80 channels")
    assert evidence["groups"][0] == "2" and evidence["width_per_group"][0] == "40"
    assert found.preset == "resnest50d_4s2x40d" and found.spec.avd_first
    assert [a.split(":")[0] for a in found.assumptions][-2:] == ["avd", "avd_first"]
    # fine-tuned to 10 classes: still the published model's placement
    tuned = identify_shapes(meta_shapes(PRESETS["resnest50d_4s2x40d"].replace(num_classes=10)))
    assert tuned.spec == PRESETS["resnest50d_4s2x40d"].replace(num_classes=10)


def test_a_resnest_attention_of_another_width_is_not_identified() -> None:
    """timm's rd_channels can give the attention another width than radix x width / 4: such
    weights would not load into the spec identify would claim, so it refuses."""
    shapes = dict(meta_shapes(PRESETS["resnest14d"]))
    shapes["layer1.0.conv2.fc1.weight"] = (48, 64, 1, 1)
    with pytest.raises(IdentifyError, match=r"layer1\.0\.conv2\.fc1 has 48 outputs"):
        identify_shapes(shapes)


@pytest.mark.parametrize("arch", [TINY50D, TINY50, "resnext50_32x4d:widths=16,32,64,128,num_classes=3", "resnet20:num_classes=7",
                                  f"resnet18:{TINY},norm=none", "resnet34:shortcut=C,widths=8,16,32,64",
                                  "resnest50d:layers=1,1,1,1,widths=16,32,64,128"])  # fmt: skip
def test_saved_checkpoints_identify_and_prove_themselves(tmp_path: Path, arch: str) -> None:
    ckpt = read_checkpoint(save(tmp_path / "w.safetensors", state_dict(arch)))
    ident = identify_checkpoint(ckpt)
    assert ident.identified.spec == resolve(arch)
    assert ident.proved and ident.load_error is None


def test_timm_and_torchvision_layouts_are_told_apart() -> None:
    timm = identify_shapes(meta_shapes(resolve(TINY50D))).spec
    tv = identify_shapes(meta_shapes(resolve(TINY50))).spec
    assert (timm.stem.value, timm.avg_down) == ("deep", True)
    assert (tv.stem.value, tv.avg_down) == ("classic", False)


def test_a_non_resnet_state_dict_cannot_be_identified() -> None:
    with pytest.raises(IdentifyError, match="not a ResNet"):
        identify_shapes({"encoder.weight": (4, 4), "decoder.weight": (4, 4)})


def test_proof_fails_when_the_file_has_more_than_the_variant(tmp_path: Path) -> None:
    sd = state_dict("resnet18:" + TINY) | {"head.extra.weight": torch.zeros(2)}
    ident = identify_checkpoint(read_checkpoint(save(tmp_path / "x.pth", sd)))
    assert not ident.proved and ident.comparison.unexpected == ("head.extra.weight",)
    assert ident.load_error is not None and "head.extra.weight" in ident.load_error


def test_one_front_door_identifies_a_checkpoint_a_path_and_a_module(tmp_path: Path) -> None:
    # identify's two paths share one entrance: a checkpoint (or its path) goes to the weights
    # reader and is proved, a module to the structure reader; a dispatch that sent either to
    # the other reader, or dropped the proof, would fail here
    from resnet_inspect.identification import identify
    from resnet_inspect.identification.structure import StructureMatch

    path = save(tmp_path / "w.pth", state_dict("resnet18:" + TINY))
    for target in (read_checkpoint(path), path, str(path)):
        ident = identify(target)
        assert ident.proved and ident.identified.spec == resolve("resnet18:" + TINY)
    # a torchvision resnet18 built from its preset: the structure reader names it exactly
    match = identify(build_model(PRESETS["resnet18"], "meta"), (1, 3, 224, 224))
    assert isinstance(match, StructureMatch) and match.preset == "resnet18" and match.departures == ()


# --- loading into models --------------------------------------------------------------------------
def test_load_weights_into_a_real_model_copies_the_values(tmp_path: Path) -> None:
    sd = state_dict(TINY50D)
    path = save(tmp_path / "w.pth", {"state_dict": {"module." + k: v for k, v in sd.items()}})
    torch.manual_seed(1)
    model = build_model(resolve(TINY50D))
    load_weights_into(model, path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in sd.items())


def test_a_mismatch_raises_before_touching_the_model(tmp_path: Path) -> None:
    path = save(tmp_path / "w.pth", state_dict("resnet18:" + TINY))
    model = build_model(resolve("resnet34:" + TINY))
    before = model.conv1.weight.clone()
    with pytest.raises(WeightsMismatch, match=r"does not load into resnet34.*it looks like resnet18"):
        load_weights_into(model, path)
    assert torch.equal(model.conv1.weight, before)
    with pytest.raises(WeightsMismatch):
        verify_weights(resolve("resnet34:" + TINY), path)


# --- the command line -----------------------------------------------------------------------------
@pytest.fixture()
def r18(tmp_path: Path) -> Path:
    return save(tmp_path / "r18.pth", {"state_dict": state_dict("resnet18:" + TINY)})


def test_check_passes_with_exit_0(runner: CliRunner, r18: Path) -> None:
    result = runner.invoke(app, ["check", "resnet18", str(r18), "--widths", "8,16,32,64",
                                 "--stem-width", "8", "--num-classes", "5"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Verdict: loads strictly" in result.stdout and "under 'state_dict'" in result.stdout


def test_check_shows_what_differs_and_exits_1(runner: CliRunner, r18: Path) -> None:
    result = runner.invoke(app, ["check", "resnet18:widths=8,16,32,64,stem_width=8", str(r18)])
    assert result.exit_code == 1
    out = " ".join(result.stdout.split())
    assert "shape differs" in out and "1000x64" in out and "5x64" in out  # fc: expected vs found
    assert "does NOT load strictly" in out and "it looks like resnet18:" in out


def test_check_json_lists_every_key(runner: CliRunner, r18: Path) -> None:
    result = runner.invoke(app, ["check", "resnet34:" + TINY, str(r18), "-f", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["loads_strictly"] is False
    assert "layer1.2.conv1.weight" in data["missing"] and "conv1.weight" in data["matching"]
    assert data["checkpoint"]["nested_key"] == "state_dict"


def test_identify_prints_preset_spec_and_proof(runner: CliRunner, tmp_path: Path) -> None:
    path = save(tmp_path / "r20.safetensors", state_dict("resnet20"))
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Preset: resnet20" in out and "Spec: resnet20" in out
    assert "Loads strictly: built resnet20 on the meta device and loaded all" in out and "stride_in" in out
    assert "aa: anti-aliasing" in out  # named as unseen, with what was assumed


def test_identify_json_gives_a_spec_string_that_builds(runner: CliRunner, tmp_path: Path) -> None:
    path = save(tmp_path / "x.pth", state_dict(TINY50D))
    data = json.loads(runner.invoke(app, ["identify", str(path), "-f", "json"]).stdout)
    assert data["preset"] is None and data["proved"] is True
    assert resolve(data["spec_string"]) == resolve(TINY50D)


def test_identify_exits_1_when_it_cannot_identify(runner: CliRunner, tmp_path: Path) -> None:
    path = save(tmp_path / "bert.pth", {"encoder.weight": torch.zeros(2, 2)})
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 1 and "not a ResNet" in one_error_line(result)


def test_summary_with_weights_says_they_load(runner: CliRunner, r18: Path) -> None:
    result = runner.invoke(app, ["summary", "resnet18:" + TINY, "--weights", str(r18), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["weights"]["loads_strictly"] is True and data["weights"]["nested_key"] == "state_dict"
    table = runner.invoke(app, ["summary", "resnet18:" + TINY, "-w", str(r18)]).stdout
    assert "Weights:" in table and "loads strictly into this variant" in table


def test_summary_with_wrong_weights_is_one_line_exit_1(runner: CliRunner, r18: Path) -> None:
    result = runner.invoke(app, ["summary", "resnet50", "--weights", str(r18)])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "--weights" in line and "does not load into resnet50" in line and "looks like resnet18:" in line


def test_dilation_shows_where_it_removes_a_projection() -> None:
    # stage 2 keeps 64 channels: with stride 2 it needs a projection, dilated it has none
    spec = resolve("resnet18:widths=64,64,128,256,replace_stride_with_dilation=1,0,0")
    found = identify_shapes(meta_shapes(spec))
    assert found.spec == spec
    assert not any(a.startswith("replace_stride") for a in found.assumptions)


@pytest.mark.parametrize("arch", [
    "resnetv2_18:layers=1,2,widths=32,64,stem_width=32,num_classes=7,in_chans=1",
    "resnetv2_18d:layers=1,1,1,widths=16,32,64",
    "resnetv2_50t:layers=1,1,widths=32,64",
    "resnetv2_50d_frn:layers=1,1,1,widths=32,64,128",
    "resnetv2_50d_evos:layers=2,1,widths=32,64",
    "resnetv2_50x1_bit:layers=2,1,widths=32,64,stem_width=32",
])  # fmt: skip
def test_resnetv2_variants_identify_back_to_themselves(arch: str) -> None:
    """timm's resnetv2 keys: everything the shapes show comes back, and the rest is assumed
    as timm's models pair it (BiT's std convs and fixed pool with GroupNorm and the 7x7 stem,
    avg_down with a deep or tiered stem)."""
    spec = resolve(arch)
    found = identify_shapes(meta_shapes(spec))
    assert found.spec == spec
    unseen = {a.split(":")[0] for a in found.assumptions}
    assert {"conv", "stem_pool", "avg_down", "replace_stride_with_dilation"} <= unseen


def test_a_resnetv2_checkpoint_is_not_mistaken_for_torchvision_layout() -> None:
    shapes = meta_shapes(resolve("resnetv2_50"))
    assert identify_shapes(shapes).spec.layout.value == "resnetv2"
    with pytest.raises(IdentifyError, match="stages are not numbered"):
        identify_shapes({k.replace("stages.1.", "stages.7."): v for k, v in shapes.items()})
