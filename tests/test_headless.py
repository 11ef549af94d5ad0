"""Headless ResNets (num_classes=0, timm's meaning: no classifier, the pooled features out):
the spec, every layout's model, identify and check of files without classifier keys
(timm's num_classes=0, detectron2's detection backbones), convert, and bench's training step.

The published numbers: torchvision's resnet18 has 11,689,512 parameters (its weights' table,
ResNet18_Weights.IMAGENET1K_V1.meta["num_params"]); its fc is 512 x 1000 + 1000 = 513,000.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from test_layouts_pkl import TINY_BOTTLENECK, d2_names
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect import conversion
from resnet_inspect.checkpoint import read_checkpoint
from resnet_inspect.cli import app
from resnet_inspect.conversion import Target, convert
from resnet_inspect.errors import SpecError
from resnet_inspect.identification.proof import identify_checkpoint
from resnet_inspect.identification.weights import identify_shapes
from resnet_inspect.model import build_model
from resnet_inspect.spec import preset_words, resolve

# each layout's classifier: its keys' prefix, and how it maps the pooled features to logits
CLASSIFIERS = {"torchvision": "fc.", "resnetv2": "head.fc.", "senet": "last_linear.", "clip": "attnpool.c_proj."}
TINY = {
    "torchvision": "resnet18:layers=1,1,1,1,widths=8,16,32,64,stem_width=8,num_classes=5",
    "resnetv2": "resnetv2_50:layers=1,1,1,1,widths=8,16,32,64,stem_width=8,num_classes=5",
    "senet": "legacy_seresnet18:layers=1,1,1,1,widths=16,16,32,64,stem_width=16,num_classes=5",
    "clip": "resnet50_clip:layers=1,1,1,1,widths=8,16,32,64,stem_width=8,img_size=64,num_classes=5",
    "clip_gap": "resnet50_clip_gap:layers=1,1,1,1,widths=8,16,32,64,stem_width=8,img_size=64,num_classes=5",
}


def _headless(arch: str) -> str:
    return arch.replace("num_classes=5", "num_classes=0")


def _classifier_prefix(arch: str) -> str:
    spec = resolve(arch)
    if spec.layout.value == "clip" and spec.head.value == "avg":
        return "fc."  # timm's *_clip_gap: a global pool and fc
    return CLASSIFIERS[spec.layout.value]


# --- the spec ---------------------------------------------------------------------------------
def test_num_classes_zero_is_a_spec_and_other_counts_still_start_at_one() -> None:
    """Catches 0 still refused, a negative count let through, or every int opened to 0."""
    spec = resolve("resnet50:num_classes=0")
    assert spec.num_classes == 0 and spec == resolve("resnet50").replace(num_classes=0)
    assert resnet_inspect.build("resnet50:num_classes=0", device="meta").state_dict().keys().isdisjoint(
        {"fc.weight", "fc.bias"}
    )
    with pytest.raises(SpecError, match=r"num_classes: must be at least 0, got -1"):
        resolve("resnet50:num_classes=-1")
    with pytest.raises(SpecError, match=r"groups: must be at least 1, got 0"):
        resolve("resnet50:groups=0")


def test_a_negative_count_on_the_command_line_is_one_line_exit_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", "resnet18", "--num-classes", "-1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == ["error: --num-classes '-1': must be at least 0, got -1"]


def test_summary_of_a_headless_resnet18_has_no_fc_and_its_params(runner: CliRunner) -> None:
    """torchvision's published 11,689,512 less its fc's 513,000; output the 512 pooled features."""
    result = runner.invoke(app, ["summary", "resnet18:num_classes=0", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["spec_string"] == "resnet18:num_classes=0"
    assert not any(row["name"].startswith("fc") for row in data["layers"])
    assert data["layers"][-1]["name"] == "avgpool" and data["output_shape"] == [1, 512]
    assert data["totals"]["params"] == 11_689_512 - 513_000
    full = json.loads(runner.invoke(app, ["summary", "resnet18", "-f", "json"]).stdout)
    # the fc's 512,000 MACs, and its 1,000 bias additions, are all that is gone
    assert full["totals"]["macs"] - data["totals"]["macs"] == 512_000


# --- every layout's model -----------------------------------------------------------------------
@pytest.mark.parametrize("layout", list(TINY))
def test_the_headless_net_outputs_what_the_classifier_reads(layout: str) -> None:
    """The state dict is the whole net's less the classifier's keys, and the classifier applied
    to the headless output gives the whole net's output: the headless net ends exactly where
    the classifier begins (CLIP's attention pool: before c_proj, as timm's AttentionPool2d with
    out_features=0). Catches a classifier left in, the pool dropped, or an unflattened output."""
    arch = TINY[layout]
    prefix = _classifier_prefix(arch)
    torch.manual_seed(0)
    whole = build_model(resolve(arch)).eval()
    headless = build_model(resolve(_headless(arch))).eval()
    kept = {k: v for k, v in whole.state_dict().items() if not k.startswith(prefix)}
    assert len(kept) < len(whole.state_dict())
    headless.load_state_dict(kept, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        pooled, logits = headless(x), whole(x)
        classifier = whole.get_submodule(prefix.rstrip("."))
        if isinstance(classifier, torch.nn.Conv2d):  # resnetv2's head.fc, a 1x1 conv
            again = classifier(pooled[:, :, None, None]).flatten(1)
        else:
            again = classifier(pooled)
    assert pooled.shape == (2, resolve(arch).feature_channels)
    torch.testing.assert_close(again, logits, rtol=1e-5, atol=1e-6)


# --- identify and check -----------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["resnet50", "resnetv2_50", "legacy_seresnet50", "resnet50_clip",
                                    "resnet50_clip_gap", "resnest50d_4s2x40d", "resnet20"])  # fmt: skip
def test_a_timm_num_classes_0_state_dict_is_identified_headless(preset: str) -> None:
    """Our num_classes=0 model's keys (timm's num_classes=0: the whole net's less the
    classifier's) read back as the preset without its classifier, the absence said as evidence.
    Catches the classifier still required, or the headless spec named as no preset at all."""
    spec = resolve(preset).replace(num_classes=0)
    shapes = {k: tuple(v.shape) for k, v in build_model(spec, "meta").state_dict().items()}
    found = identify_shapes(shapes)
    assert found.spec == spec, found.spec_string
    (because,) = [e.because for e in found.evidence if e.field == "num_classes"]
    assert because.startswith(("no classifier keys", "no head.fc keys")) and "num_classes=0" in because
    assert preset_words(found.spec) == f"{preset} without its classifier (num_classes=0)"
    assert found.spec_string == f"{preset}:num_classes=0"


def test_a_lone_classifier_bias_is_not_a_headless_net() -> None:
    shapes = {k: tuple(v.shape) for k, v in build_model(resolve("resnet18"), "meta").state_dict().items()}
    del shapes["fc.weight"]
    with pytest.raises(resnet_inspect.InspectError, match=r"no 'fc\.weight'"):
        identify_shapes(shapes)


def test_identify_check_and_weights_of_a_headless_file(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "backbone.pth"
    sd = build_model(resolve(TINY["torchvision"])).state_dict()
    torch.save({k: v for k, v in sd.items() if not k.startswith("fc.")}, path)
    arch = _headless(TINY["torchvision"])
    shown = runner.invoke(app, ["identify", str(path)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "num_classes │ 0" in shown.stdout and "Loads strictly" in shown.stdout
    data = json.loads(runner.invoke(app, ["identify", str(path), "-f", "json"]).stdout)
    assert data["proved"] and resolve(data["spec_string"]) == resolve(arch)
    assert runner.invoke(app, ["check", arch, str(path)]).exit_code == 0
    whole = runner.invoke(app, ["check", TINY["torchvision"], str(path)])
    assert whole.exit_code == 1 and "2 missing" in whole.stdout
    summary = runner.invoke(app, ["summary", arch, "--weights", str(path), "--input", "1x3x64x64"])
    assert summary.exit_code == 0 and "loads strictly into this variant" in summary.stdout


def test_the_preset_line_names_the_preset_without_its_classifier(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "r18.pth"
    sd = build_model(resolve("resnet18"), "meta").state_dict()
    torch.save({k: torch.zeros(v.shape, dtype=v.dtype) for k, v in sd.items() if not k.startswith("fc.")}, path)
    shown = runner.invoke(app, ["identify", str(path)], env={"COLUMNS": "300"})
    assert "Preset: resnet18 without its classifier (num_classes=0)" in shown.stdout


# --- detectron2's detection models ------------------------------------------------------------
# A Faster R-CNN R50-FPN's keys beside its backbone, named as detectron2 names them (main in
# 2026): modeling/backbone/fpn.py lines 91-93 (fpn_lateral{stage}, fpn_output{stage}, stage =
# log2 of the feature's stride: 2..5); proposal_generator/rpn.py lines 102, 116, 118 and 240
# (rpn_head.conv, .objectness_logits, .anchor_deltas); roi_heads/box_head.py line 71 (fc1,
# fc2) and roi_heads.py lines 583-584 (box_head, box_predictor); fast_rcnn.py lines 236-239
# (cls_score: classes + 1, bbox_pred: 4 per class). Widths as the tiny backbone's.
def fpn_heads(channels: tuple[int, ...], out: int = 16, classes: int = 3) -> dict[str, tuple[int, ...]]:
    heads: dict[str, tuple[int, ...]] = {}
    for stage, c in zip(range(2, 6), channels, strict=True):
        heads |= {f"backbone.fpn_lateral{stage}.weight": (out, c, 1, 1), f"backbone.fpn_lateral{stage}.bias": (out,),
                  f"backbone.fpn_output{stage}.weight": (out, out, 3, 3), f"backbone.fpn_output{stage}.bias": (out,)}  # fmt: skip
    heads |= {"proposal_generator.rpn_head.conv.weight": (out, out, 3, 3),
              "proposal_generator.rpn_head.conv.bias": (out,),
              "proposal_generator.rpn_head.objectness_logits.weight": (3, out, 1, 1),
              "proposal_generator.rpn_head.objectness_logits.bias": (3,),
              "proposal_generator.rpn_head.anchor_deltas.weight": (12, out, 1, 1),
              "proposal_generator.rpn_head.anchor_deltas.bias": (12,),
              "roi_heads.box_head.fc1.weight": (32, out * 7 * 7), "roi_heads.box_head.fc1.bias": (32,),
              "roi_heads.box_head.fc2.weight": (32, 32), "roi_heads.box_head.fc2.bias": (32,),
              "roi_heads.box_predictor.cls_score.weight": (classes + 1, 32),
              "roi_heads.box_predictor.cls_score.bias": (classes + 1,),
              "roi_heads.box_predictor.bbox_pred.weight": (4 * classes, 32),
              "roi_heads.box_predictor.bbox_pred.bias": (4 * classes,)}  # fmt: skip
    return heads


def _detection_pkl(tmp_path: Path, model: torch.nn.Module) -> tuple[Path, int]:
    """A detectron2 model zoo .pkl of a Faster R-CNN FPN around ``model``'s weights (its
    classifier dropped: a detection backbone has none); the count of the detector's own keys."""
    backbone = {f"backbone.bottom_up.{k}": v.numpy() for k, v in d2_names(model.state_dict()).items()
                if not k.startswith("linear.")}  # fmt: skip
    channels = tuple(model.get_submodule(f"layer{i}")[-1].conv3.out_channels for i in (1, 2, 3, 4))
    heads = {k: torch.rand(shape).numpy() for k, shape in fpn_heads(channels).items()}
    path = tmp_path / "model_final_280758.pkl"
    with path.open("wb") as f:
        pickle.dump({"model": {**backbone, **heads}, "__author__": "Detectron2 Model Zoo"}, f, protocol=4)
    return path, len(heads)


def test_a_detectron2_detection_checkpoint_is_its_backbone_headless(tmp_path: Path, runner: CliRunner) -> None:
    """The FPN and heads are left out and counted; the backbone is identified as the tiny
    bottleneck net without a classifier (stride on the 1x1: detectron2's default), proved by
    the strict load, and the mapped weights give the backbone's own pooled features.
    Catches the heads taken into the mapping, the count wrong, the classifier still required."""
    torch.manual_seed(0)
    model = build_model(resolve(TINY_BOTTLENECK)).eval()
    path, others = _detection_pkl(tmp_path, model)
    checkpoint = read_checkpoint(path)
    assert checkpoint.layout == "detectron2" and len(checkpoint.unused) == others == 30  # 16 FPN, 6 RPN, 8 box head
    assert checkpoint.ecosystem is not None
    assert checkpoint.ecosystem.startswith("a detectron2 detection model's backbone (backbone.bottom_up.*)")
    assert f"; {others} other keys of the detector" in checkpoint.ecosystem and "left out" in checkpoint.ecosystem
    found = identify_checkpoint(checkpoint)
    spec = resolve(_headless(TINY_BOTTLENECK) + ",stride_in=1x1")
    assert found.proved and found.identified.spec == spec, found.identified.spec_string
    ours = build_model(spec).eval()
    ours.load_state_dict(dict(checkpoint.tensors), strict=True)
    reference = build_model(resolve(_headless(TINY_BOTTLENECK) + ",stride_in=1x1")).eval()
    reference.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("fc.")})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
    shown = runner.invoke(app, ["identify", str(path)], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    assert f"{others} keys not read (" in shown.stdout and "detection model's backbone" in shown.stdout


# --- convert --------------------------------------------------------------------------------------
# torchvision's ResNet has its own widths, and strides the 3x3: a plain resnet18's four stages
TIMM_HEADLESS = "resnet18:layers=1,1,1,1,num_classes=0"


def _timm_headless(tmp_path: Path) -> Path:
    """What timm.create_model(..., num_classes=0).state_dict() holds: no classifier keys."""
    path = tmp_path / "timm_num_classes_0.pth"
    torch.manual_seed(0)
    torch.save(build_model(resolve(TIMM_HEADLESS)).state_dict(), path)
    return path


# detectron2's bottleneck strides the 1x1 (its default), which torchvision's cannot hold
@pytest.mark.parametrize(("source", "to"), [("timm", t) for t in Target] + [("detectron2", Target.TIMM),
                                                                            ("detectron2", Target.HF)])  # fmt: skip
def test_a_headless_source_converts_to_a_headless_target(tmp_path: Path, source: str, to: Target) -> None:
    """No classifier keys in the result (hf: ResNetModel's names, no resnet. prefix); the
    result read back identifies as num_classes=0 and loads strictly (convert's own proof), and
    the note says how the target's library loads it. Catches a prefix or a classifier written
    for a net that has none."""
    if source == "timm":
        path = _timm_headless(tmp_path)
    else:
        path, _ = _detection_pkl(tmp_path, build_model(resolve(TINY_BOTTLENECK)))
    done = convert(path, to=to, output=tmp_path / "out.safetensors")
    assert done.proof.proved and done.spec.num_classes == 0
    with safe_open(str(tmp_path / "out.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert not any(k.startswith(("fc.", "classifier.", "resnet.")) for k in keys)
    if to is Target.HF:
        assert "embedder.embedder.convolution.weight" in keys
    again = identify_checkpoint(read_checkpoint(tmp_path / "out.safetensors"))
    # a stride has no weights: detectron2's 1x1 is assumed back only from a detectron2 file
    assert again.proved and again.identified.spec.replace(stride_in=done.spec.stride_in) == done.spec
    assert [n for n in done.notes if n.startswith("num_classes=0")] == [conversion.HEADLESS_NOTES[to]]


def test_bench_trains_a_headless_net_on_its_pooled_features(runner: CliRunner) -> None:
    """The loss of a headless net's step is cross-entropy over its 64 pooled features, one
    label per image drawn from them (with no classes to draw from, the step could not run)."""
    from resnet_inspect.benchmark import BenchTask, engine
    from resnet_inspect.sources import open_source

    arch = "resnet18:layers=1,1,1,1,widths=8,16,32,64,num_classes=0"
    task = BenchTask(open_source(arch), 2, (3, 32, 32))
    assert engine._num_classes(task, torch.nn.Identity(), torch.zeros(1)) == 64
    result = runner.invoke(app, ["bench", arch, "--input", "3x32x32", "--batch", "2", "--mode", "train",
                                 "--min-time", "0.05", "--warmup", "0.01", "--threads", "1", "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (measured,) = json.loads(result.stdout)["results"]
    assert measured["status"] == "ok" and measured["spec"]["num_classes"] == 0


def test_a_module_without_its_fc_is_compared_with_the_headless_preset() -> None:
    """A user's resnet18 whose fc is an Identity (timm's num_classes=0): the reference is
    built with num_classes=0, a note says so, and the function is proved equal. Catches the
    proof giving up on the one call the reference has more."""
    model = resnet_inspect.build("resnet18")
    model.fc = torch.nn.Identity()
    result = resnet_inspect.identify(model, input_size=(1, 3, 64, 64)).data
    assert result.proof.reference == "resnet18:num_classes=0" and result.proof.equal
    assert result.proof.notes == ("reference built with num_classes=0: the model ends without its final Linear",)
    assert result.verdict.startswith("computes the same function as resnet18:num_classes=0")


def test_the_nesting_is_said_and_two_hf_resnets_are_refused() -> None:
    """detectron2's C4 models hold res5 in roi_heads (roi_heads.py line 380): both places are
    named and only the other keys counted. Two HF ResNets in one file: which to read is not
    guessed. Catches res5 counted as left out, or the first ResNet silently taken."""
    from resnet_inspect.checkpoint.layouts import LayoutError, detectron2, hf

    names = {k: v for k, v in d2_names(build_model(resolve("resnet50"), "meta").state_dict()).items()
             if not k.startswith("linear.")}  # fmt: skip
    c4 = {(f"roi_heads.{k}" if k.startswith("res5.") else f"backbone.{k}"): v for k, v in names.items()}
    c4["roi_heads.box_predictor.cls_score.weight"] = torch.empty(81, 2048, device="meta")
    assert detectron2.describe(c4.keys()).startswith(
        "a detectron2 detection model's backbone (backbone.* and roi_heads.res5.*); 1 other key of the detector "
    )
    sig = "embedder.embedder.convolution.weight"
    with pytest.raises(LayoutError, match=r"holds 2 ResNets \(under 'a\.', 'b\.'\)"):
        hf.matches({f"a.{sig}": 0, f"b.{sig}": 0})


@pytest.mark.parametrize(("classes", "head"), [(0, "none"), (10, "Linear(512, 10)")])
def test_the_head_the_reference_was_built_with_is_not_called_a_departure_that_keeps_it(
    classes: int, head: str
) -> None:
    """The reference compared is resnet18 with the model's own head, so the head cannot be
    said to keep (or change) the function that comparison speaks of: it is marked as what the
    reference was built with, and the verdict counts no departure beyond it (before: "1
    departure that keeps it", the head marked "keeps the function"). JSON's ``exact`` stays
    false: the model is not resnet18 itself. Catches the mark lost, or the head counted."""
    model = resnet_inspect.build("resnet18")
    model.fc = torch.nn.Identity() if classes == 0 else torch.nn.Linear(512, classes)
    match = resnet_inspect.identify(model, input_size=(1, 3, 64, 64)).data
    assert [(m.text, m.effect.value) for m in match.marked] == [
        (f"head: {head} where resnet18 has Linear(512, 1000)", "in the reference compared")]
    assert match.verdict.startswith(f"computes the same function as resnet18:num_classes={classes}: outputs equal")
    assert match.verdict.endswith("; matches it exactly, no departure but what it was built with")
    assert not match.exact
