"""detectron2 and Caffe2 ``.pkl`` files and torchvision's quantized ResNets: read safely,
mapped to our names, identified and proved by a strict load, and equal in output.

Every fixture is built here, in tmp_path, by builders written from the libraries' source (each
names the file and line it follows), independently of the mapping under test: a fixture that
only inverted the code under test would prove nothing. Where a mapping renames, the mapped
model's output must equal the original model's exactly; where it transforms (a folded BN, an
int8 weight), the transformation is derived by hand below.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect.checkpoint import CheckpointError, read_checkpoint, safe_pickle
from resnet_inspect.checkpoint import read as read_module
from resnet_inspect.checkpoint.compare import load_strictly
from resnet_inspect.checkpoint.layouts import LAYOUTS, caffe2, detect, detectron2, quantized
from resnet_inspect.cli import app
from resnet_inspect.identification.proof import identify_checkpoint
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

np = pytest.importorskip("numpy")
pytestmark = pytest.mark.filterwarnings("ignore:torch.quantize_per:UserWarning")

TINY_BOTTLENECK = "resnet50:layers=1,1,1,1,widths=8,16,32,64,stem_width=8,num_classes=5"
TINY_BASIC = "resnet18:widths=8,16,32,64,stem_width=8,num_classes=5"
GROUPED = "resnext50_32x4d:layers=1,1,1,1,num_classes=5"
REFERENCE = Path(__file__).parent / "reference" / "data" / "tv_quantized.json"


def _model(spec: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(resolve(spec)).eval()
    with torch.no_grad():  # statistics away from the identity, so that a wrong BN shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model


def _output(model: torch.nn.Module, sd: dict[str, Any]) -> torch.Tensor:
    load_strictly(model, sd)
    torch.manual_seed(1)
    with torch.no_grad():
        return model.eval()(torch.randn(2, 3, 64, 64))


# --- fixture builders, from the libraries' source ------------------------------------------------
def d2_names(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our names as detectron2's ResNet names them (detectron2/modeling/backbone/resnet.py:
    BasicStem.conv1 with its norm, line 344; stages "res" + str(i + 2), line 403; conv1..conv3
    and shortcut, each with .norm, lines 133-171; the classifier "linear", line 418).
    FrozenBatchNorm2d keeps no num_batches_tracked (layers/batch_norm.py line 43)."""
    out = {}
    for key, value in sd.items():
        if key.endswith("num_batches_tracked"):
            continue
        stem = {"conv1.weight": "stem.conv1.weight", "fc.weight": "linear.weight",
                "fc.bias": "linear.bias"}.get(key)  # fmt: skip
        if stem is None and key.startswith("bn1."):
            stem = "stem.conv1.norm." + key[4:]
        if stem is None:
            stage, block, part, leaf = re.match(r"layer(\d)\.(\d+)\.(\w+(?:\.\d)?)\.(\w+)$", key).groups()
            part = {"downsample.0": "shortcut", "downsample.1": "shortcut.norm"}.get(part, part)
            part = re.sub(r"^bn(\d)$", r"conv\1.norm", part)
            stem = f"res{int(stage) + 1}.{block}.{part}.{leaf}"
        out[stem] = value
    return out


def caffe2_blobs(sd: dict[str, torch.Tensor], eps: float = 1e-5) -> dict[str, Any]:
    """Our weights as Caffe2's ResNet blobs, each BN folded into an AffineChannel (scale
    ``gamma / sqrt(var + eps)``, shift ``beta - mean * scale``). The names are those that
    detectron2's convert_basic_c2_names (checkpoint/c2_model_loading.py lines 9-55) maps to
    its own: conv1_w, res_conv1_bn_{s,b}, res{s}_{b}_branch2{a,b,c}_w and _bn_{s,b},
    res{s}_{b}_branch1_w and _bn_{s,b}, fc1000_{w,b}."""
    out: dict[str, Any] = {}
    for key, value in sd.items():
        if key.endswith("num_batches_tracked") or key.endswith(("running_mean", "running_var")):
            continue
        m = re.match(r"layer(\d)\.(\d+)\.(\w+(?:\.\d)?)\.(\w+)$", key)
        if key in ("conv1.weight", "fc.weight", "fc.bias"):
            name = {"conv1.weight": "conv1_w", "fc.weight": "fc1000_w", "fc.bias": "fc1000_b"}[key]
        elif key.startswith("bn1."):
            name = "res_conv1_bn_" + {"weight": "s", "bias": "b"}[key[4:]]
        else:
            stage, block, part, leaf = m.groups()
            branch = {"conv1": "branch2a", "bn1": "branch2a_bn", "conv2": "branch2b", "bn2": "branch2b_bn",
                      "conv3": "branch2c", "bn3": "branch2c_bn", "downsample.0": "branch1",
                      "downsample.1": "branch1_bn"}[part]  # fmt: skip
            suffix = {"weight": "s" if "bn" in branch else "w", "bias": "b"}[leaf]
            name = f"res{int(stage) + 1}_{block}_{branch}_{suffix}"
        if name.endswith("_bn_s") or name == "res_conv1_bn_s":
            norm = key.removesuffix(".weight")
            scale = value / torch.sqrt(sd[norm + ".running_var"] + eps)
            shift = sd[norm + ".bias"] - sd[norm + ".running_mean"] * scale
            out[name], out[name[:-1] + "b"] = scale, shift
        elif not (name.endswith("_bn_b") or name == "res_conv1_bn_b"):
            out[name] = value
    return out


def tv_quantized(model: torch.nn.Module) -> dict[str, Any]:
    """A quantized state dict as torchvision's quantization.resnet18/50 has it after
    fuse_model and convert (torchvision/models/quantization/resnet.py; the keys and what they
    hold are checked against tests/reference/data/tv_quantized.json below): each conv fused
    with its BN (weight * gamma/sqrt(var+eps), bias beta - mean*gamma/sqrt(var+eps)), its
    weight per-channel qint8 (symmetric: zero point 0, as fbgemm's default weight observer),
    its output scale and zero point; add_relu / skip_add_relu observers; the classifier packed
    with its dtype; the QuantStub's scale."""
    sd = model.state_dict()
    out: dict[str, Any] = {}
    basic = "layer1.0.conv3.weight" not in sd
    for key, w in sd.items():
        m = re.match(r"(conv1|layer\d\.\d+\.(?:conv\d|downsample\.0))\.weight$", key)
        if m is None:
            continue
        conv = m[1]
        norm = "bn1" if conv == "conv1" else re.sub(r"conv(\d)$", r"bn\1", conv).replace("downsample.0", "downsample.1")
        factor = sd[norm + ".weight"] / torch.sqrt(sd[norm + ".running_var"] + 1e-5)
        fused_w = w * factor.reshape(-1, 1, 1, 1)
        scales = fused_w.abs().amax(dim=(1, 2, 3)).double() / 127
        out[f"{conv}.weight"] = torch.quantize_per_channel(fused_w, scales, torch.zeros_like(scales, dtype=torch.long), 0, torch.qint8)
        out[f"{conv}.bias"] = sd[norm + ".bias"] - sd[norm + ".running_mean"] * factor
        out[f"{conv}.scale"], out[f"{conv}.zero_point"] = torch.tensor(0.05), torch.tensor(64)
        block = re.match(r"layer\d\.\d+\.", conv)
        last = f"{block[0]}downsample.0" if block and f"{block[0]}downsample.0.weight" in sd else None
        if block and conv == (last or block[0] + ("conv2" if basic else "conv3")):
            add = "add_relu" if basic else "skip_add_relu"  # after the block's modules
            out[f"{block[0]}{add}.scale"], out[f"{block[0]}{add}.zero_point"] = torch.tensor(0.1), torch.tensor(0)
    fc_scale = sd["fc.weight"].abs().amax(dim=1).double() / 127
    fc_w = torch.quantize_per_channel(sd["fc.weight"], fc_scale, torch.zeros_like(fc_scale, dtype=torch.long), 0, torch.qint8)
    out["fc.scale"], out["fc.zero_point"] = torch.tensor(0.2), torch.tensor(60)
    out["fc._packed_params.dtype"] = torch.qint8
    out["fc._packed_params._packed_params"] = (fc_w, sd["fc.bias"])
    out["quant.scale"], out["quant.zero_point"] = torch.tensor([0.03]), torch.tensor([60])
    return out


def _describe(value: Any) -> str:  # as tests/reference/tv_quantized.py writes it
    if isinstance(value, torch.Tensor):
        shape = "x".join(map(str, value.shape)) or "scalar"
        scheme = f" {str(value.qscheme()).removeprefix('torch.')}" if value.is_quantized else ""
        return f"{str(value.dtype).removeprefix('torch.')} {shape}{scheme}"
    if isinstance(value, tuple):
        return f"tuple({', '.join(_describe(v) for v in value)})"
    return f"dtype {str(value).removeprefix('torch.')}"


def _numpy(sd: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().numpy() for k, v in sd.items()}


def _pkl(path: Path, obj: Any, protocol: int = 4) -> Path:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


# --- detectron2 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "implied"), [(TINY_BOTTLENECK, ",stride_in=1x1"), (TINY_BASIC, "")])
def test_a_detectron2_pkl_is_identified_proved_and_computes_the_same(tmp_path: Path, spec: str, implied: str) -> None:
    """A model zoo file ({"model": arrays, "__author__": ...}) maps to our names: identify names
    the spec and proves it by a strict load, and the mapped weights give the original model's
    output exactly. Catches a norm mapped to the wrong conv (same shapes in a basic block),
    a lost shortcut, a stage off by one."""
    model = _model(spec)
    path = _pkl(tmp_path / "model_final.pkl", {"model": _numpy(d2_names(model.state_dict())),
                                               "__author__": "Detectron2 Model Zoo"})  # fmt: skip
    checkpoint = read_checkpoint(path)
    assert checkpoint.format is read_module.FileFormat.PICKLE and checkpoint.layout == "detectron2"
    found = identify_checkpoint(checkpoint)
    # a bottleneck's stride is not in the weights: detectron2's default (the 1x1) is applied
    assert found.proved and found.identified.spec == resolve(spec + implied)
    expected = _output(_model(spec), model.state_dict())
    assert torch.equal(_output(_model(spec, seed=7), dict(checkpoint.tensors)), expected)


def test_detectron2_hints_the_stride_by_grouping_and_says_so() -> None:
    """MSRA's ResNets stride the 1x1 (detectron2's default STRIDE_IN_1X1=True), its ResNeXt
    configs the 3x3; a basic block has no such choice. Catches the hint missing or inverted."""
    for spec, hint in ((TINY_BOTTLENECK, {"stride_in": "1x1"}), (GROUPED, {"stride_in": "3x3"}), (TINY_BASIC, {})):
        mapped = detectron2.to_ours(d2_names(build_model(resolve(spec), "meta").state_dict()))
        assert mapped.spec_hints == hint, spec
        assert any("BGR" in a for a in mapped.assumptions)
        assert any(a.startswith("stride_in") for a in mapped.assumptions) == bool(hint)


@pytest.mark.parametrize("preset", ["resnet50", "resnet18", "resnext101_32x8d"])
def test_detectron2_maps_every_name_of_a_full_size_net_at_meta(preset: str) -> None:
    """Every name of the real nets (on the meta device: no data) maps, and loads strictly."""
    model = build_model(resolve(preset), "meta")
    mapped = detectron2.to_ours(d2_names(model.state_dict()))
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert set(mapped.tensors) == expected and mapped.unused == ()
    load_strictly(model, mapped.tensors, assign=True)


@pytest.mark.parametrize("nesting", ["fpn", "c4"])
def test_detection_models_yield_their_backbone_and_list_the_rest(nesting: str) -> None:
    """Under an FPN the backbone is backbone.bottom_up. (modeling/backbone/fpn.py line 103);
    in a C4 model it is backbone. with res5 in roi_heads.res5 (roi_heads.py line 380)."""
    names = d2_names(build_model(resolve("resnet50"), "meta").state_dict())
    names = {k: v for k, v in names.items() if not k.startswith("linear.")}  # no classifier
    if nesting == "fpn":
        sd = {f"backbone.bottom_up.{k}": v for k, v in names.items()}
        heads = ["backbone.fpn_lateral2.weight", "proposal_generator.rpn_head.conv.weight"]
    else:
        sd = {(f"roi_heads.{k}" if k.startswith("res5.") else f"backbone.{k}"): v for k, v in names.items()}
        heads = ["roi_heads.box_predictor.cls_score.weight"]
    sd.update({k: torch.empty(1, device="meta") for k in heads})
    assert detect(sd.keys()) is detectron2.DETECTRON2
    mapped = detectron2.to_ours(sd)
    assert "layer4.2.bn3.weight" in mapped.tensors and "conv1.weight" in mapped.tensors
    assert sorted(mapped.unused) == sorted(heads) and len(mapped.tensors) == len(names)


def test_a_deformable_conv_is_kept_by_name_so_the_strict_load_names_it() -> None:
    """A key of the backbone with no name of ours is not dropped: the proof must fail on it."""
    sd = d2_names(build_model(resolve("resnet50"), "meta").state_dict())
    sd["res5.0.conv2_offset.weight"] = torch.empty(18, 512, 3, 3, device="meta")
    mapped = detectron2.to_ours(sd)
    assert "res5.0.conv2_offset.weight" in mapped.tensors and mapped.unused == ()


def test_a_file_converted_from_torchvision_says_rgb_and_the_3x3(tmp_path: Path) -> None:
    """tools/convert-torchvision-to-d2.py (lines 38-47) keeps the classifier as stem.fc and
    asks for STRIDE_IN_1X1: False and RGB input (lines 18-25)."""
    names = d2_names(build_model(resolve("resnet50"), "meta").state_dict())
    names["stem.fc.weight"], names["stem.fc.bias"] = names.pop("linear.weight"), names.pop("linear.bias")
    mapped = detectron2.to_ours(names)
    assert mapped.spec_hints == {"stride_in": "3x3"} and "fc.weight" in mapped.tensors
    assert any("RGB" in a for a in mapped.assumptions) and not any("BGR" in a for a in mapped.assumptions)


# --- Caffe2 -------------------------------------------------------------------------------------
def test_caffe2_blob_names_follow_detectron2s_published_rules() -> None:
    """Examples read off c2_model_loading.py (convert_basic_c2_names) and Detectron1's R-50.pkl
    names, then ours. Catches the stem's norm, the shortcut or a branch letter mapped wrong."""
    cases = {
        "conv1_w": "conv1.weight", "res_conv1_bn_s": "bn1.weight", "res_conv1_bn_b": "bn1.bias",
        "res2_0_branch2a_w": "layer1.0.conv1.weight", "res2_0_branch2a_bn_s": "layer1.0.bn1.weight",
        "res2_0_branch2b_bn_b": "layer1.0.bn2.bias", "res5_2_branch2c_bn_s": "layer4.2.bn3.weight",
        "res2_0_branch1_w": "layer1.0.downsample.0.weight", "res3_0_branch1_bn_b": "layer2.0.downsample.1.bias",
        "fc1000_w": "fc.weight", "fc1000_b": "fc.bias",
    }  # fmt: skip
    for blob, ours in cases.items():
        assert detectron2.rename(caffe2.d2_name(blob)) == ours, blob


def test_folded_bn_is_exactly_scale_times_x_plus_shift() -> None:
    """By hand: BN(x) = (x - mean) / sqrt(var + eps) * weight + bias. With mean 0 and
    var = 1 - eps, var + eps rounds to exactly 1 in float32 (1 - 1e-5 is 1 - 168 ulp(2^-24)
    below 1, 1e-5 is 167.8 of them: the sum is 0.2 ulp below 1 and rounds to 1), so BN(x) =
    x * weight + bias: the AffineChannel's s * x + b. torch's kernel computes it as one fused
    multiply-add (one rounding, where s * x + b in two steps rounds twice), so the two differ
    by at most half an ulp of s * x and half an ulp of the result: eps * (|s x| + |y|) bounds
    it. var = 1 instead (off by 1/sqrt(1 + 1e-5), 5e-6 relative: ~40 ulp) breaks the bound."""
    torch.manual_seed(0)
    s, b, x = torch.randn(16), torch.randn(16), torch.randn(4, 16, 8, 8)
    assert torch.tensor(1 - 1e-5, dtype=torch.float32) + torch.tensor(1e-5, dtype=torch.float32) == 1
    mapped = caffe2.to_ours({"conv1_w": torch.randn(16, 3, 7, 7), "res_conv1_bn_s": s, "res_conv1_bn_b": b,
                             "res2_0_branch2a_w": torch.randn(4, 16, 1, 1)})  # fmt: skip
    bn = torch.nn.BatchNorm2d(16).eval()
    bn.load_state_dict({k[4:]: v for k, v in mapped.tensors.items() if k.startswith("bn1.")}, strict=False)
    product = x * s.reshape(1, -1, 1, 1)
    expected = product + b.reshape(1, -1, 1, 1)
    with torch.no_grad():
        got = bn(x)
    bound = torch.finfo(torch.float32).eps * (product.abs() + expected.abs())
    assert ((got - expected).abs() <= bound).all()
    assert any("folded" in a for a in mapped.assumptions)


@pytest.mark.parametrize("python2", [False, True], ids=["py3", "py2-latin1"])
def test_a_caffe2_r50_pkl_identifies_and_computes_the_folded_model(tmp_path: Path, python2: bool) -> None:
    """Caffe2's ImageNet file is a flat dict of blobs, with *_momentum optimizer blobs
    (detection_checkpoint.py line 83). Mapped, it is proved by a strict load, and its output
    is the BN model's it was folded from (relative difference < 1e-5: folding rounds)."""
    model = _model(TINY_BOTTLENECK)
    blobs = _numpy(caffe2_blobs(model.state_dict()))
    blobs["conv1_w_momentum"] = np.zeros_like(blobs["conv1_w"])
    path = tmp_path / "R-50.pkl"
    path.write_bytes(_python2_pickle(blobs) if python2 else pickle.dumps(blobs, protocol=2))
    checkpoint = read_checkpoint(path)
    assert checkpoint.layout == "caffe2" and checkpoint.spec_hints == {"stride_in": "1x1"}
    assert identify_checkpoint(checkpoint).proved
    got = _output(_model(TINY_BOTTLENECK, seed=3), dict(checkpoint.tensors))
    expected = _output(_model(TINY_BOTTLENECK), model.state_dict())
    assert ((got - expected).norm() / expected.norm()).item() < 1e-5
    assert any("BGR" in a for a in checkpoint.assumptions)


def _python2_pickle(obj: dict[str, Any]) -> bytes:
    """What Python 2's cPickle.dump(obj, f, 2) writes for a dict of NumPy arrays: names and
    array data as Python 2 str (BINSTRING opcodes, which Python 3 can only read with an
    encoding: latin-1, as detectron2 reads them) and numpy.core's names."""

    class Py2Pickler(pickle._Pickler):  # type: ignore[misc,name-defined]
        dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

        def save_py2_str(self, data: bytes) -> None:
            n = len(data)
            head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + n.to_bytes(4, "little")
            self.write(head + data)
            self.memoize(data)

        dispatch[bytes] = save_py2_str

    import io

    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump({k.encode(): v for k, v in obj.items()})
    data = buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in data and b"X" not in data[:3]
    return data


def test_a_caffe2_detection_file_nests_blobs(tmp_path: Path) -> None:
    """Detectron1 detection files hold {"blobs": ..., "cfg": ...} (detection_checkpoint.py
    lines 80-82); the heads are listed unused."""
    blobs = _numpy(caffe2_blobs(_model(TINY_BOTTLENECK).state_dict()))
    blobs["fpn_inner_res5_2_sum_w"] = np.zeros((4, 4, 1, 1), np.float32)
    path = _pkl(tmp_path / "model_final.pkl", {"blobs": blobs, "cfg": "MODEL: ..."})
    checkpoint = read_checkpoint(path)
    assert checkpoint.nested_key == "blobs" and checkpoint.layout == "caffe2"
    assert identify_checkpoint(checkpoint).proved


# --- torchvision's quantized ResNets ------------------------------------------------------------
@pytest.mark.parametrize("preset", ["resnet18", "resnet50"])
def test_the_hand_built_quantized_state_dict_is_torchvisions(preset: str) -> None:
    """The fixture builder's keys, dtypes, shapes and schemes equal those torchvision 0.28 builds
    (tests/reference/tv_quantized.py). Catches a builder (and so a layout) from memory."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["models"][preset]
    built = tv_quantized(build_model(resolve(preset)).eval())
    assert list(built) == list(reference)
    assert {k: _describe(v) for k, v in built.items()} == reference


def _on_the_int8_grid(model: torch.nn.Module) -> torch.nn.Module:
    """Weights that int8 holds exactly (multiples of 2^-7, |q| <= 127, every row reaching 127,
    so the symmetric scale is exactly 2^-7) and BNs with identity statistics (weight 1, mean 0,
    var 1 - eps): folding changes nothing, and the mapped float model must equal this one."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                q = torch.randint(-127, 128, m.weight.shape).float()
                q.view(q.shape[0], -1)[:, 0] = 127
                m.weight.copy_(q / 128)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(1), m.running_mean.zero_(), m.running_var.fill_(1 - 1e-5)
                m.bias.uniform_(-0.5, 0.5)
    return model


def test_a_quantized_file_is_proved_and_its_dequantized_model_computes_the_same(tmp_path: Path) -> None:
    """Saved with torch.save (the file holds a packed tuple and a dtype besides tensors), it is
    identified, proved, and with weights on the int8 grid its float model computes exactly what
    the model it was quantized from computes. Catches a bias written to the wrong BN, a
    dequantization that drops the scale, the classifier lost."""
    model = _on_the_int8_grid(_model(TINY_BASIC))
    path = tmp_path / "quantized.pth"
    torch.save(tv_quantized(model), path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.layout == "tv-quantized"
    found = identify_checkpoint(checkpoint)
    assert found.proved and found.identified.spec.num_classes == 5
    assert torch.equal(_output(_model(TINY_BASIC, seed=5), dict(checkpoint.tensors)),
                       _output(_model(TINY_BASIC), model.state_dict()))  # fmt: skip


def test_dequantization_and_the_fused_bias_by_hand() -> None:
    """Dequantized weight = scale_c * (q - zero_point_c) per output channel; conv(x) + b =
    BN(weight 1, bias b, mean 0, var 1 - eps)(conv(x)) exactly (see the folded-BN test)."""
    q = torch.tensor([[-127, 3], [5, 127]], dtype=torch.float32).reshape(2, 2, 1, 1)
    scales = torch.tensor([0.5, 0.25], dtype=torch.double)
    zero = torch.tensor([1, -2])
    weight = torch.quantize_per_channel(q * scales.reshape(2, 1, 1, 1).float() + zero.reshape(2, 1, 1, 1) * scales.reshape(2, 1, 1, 1).float(),
                                         scales, zero, 0, torch.qint8)  # fmt: skip
    ints = weight.int_repr().float()
    by_hand = (ints - zero.reshape(2, 1, 1, 1)) * scales.reshape(2, 1, 1, 1).float()
    bias = torch.tensor([0.3, -1.7])
    mapped = quantized.to_ours({"layer1.0.conv2.weight": weight, "layer1.0.conv2.bias": bias})
    assert torch.equal(mapped.tensors["layer1.0.conv2.weight"], by_hand)
    bn = torch.nn.BatchNorm2d(2).eval()
    bn.load_state_dict({k.removeprefix("layer1.0.bn2."): v for k, v in mapped.tensors.items() if ".bn2." in k}, strict=False)
    y = torch.nn.functional.conv2d(torch.randn(1, 2, 4, 4), by_hand)
    assert torch.equal(bn(y), y + bias.reshape(1, 2, 1, 1))


def test_quantized_says_its_assumptions_and_refuses_conversion() -> None:
    layout = quantized.TV_QUANTIZED
    assert layout.refuses_conversion and "activation" in layout.refuses_conversion
    assert layout.from_ours is None
    mapped = layout.to_ours(tv_quantized(build_model(resolve(TINY_BASIC)).eval()))
    assert any("int8" in a for a in mapped.assumptions)
    assert "quant.scale" in mapped.unused and "fc._packed_params.dtype" in mapped.unused


# --- which layout: none on ours -------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["resnet50", "resnet50d", "seresnext50_32x4d", "resnetv2_50", "legacy_seresnet50"])
def test_no_layout_claims_torchvision_or_timm_keys(preset: str) -> None:
    keys = build_model(resolve(preset), "meta").state_dict().keys()
    assert [layout.name for layout in LAYOUTS if layout.matches(keys)] == []


def test_each_fixture_is_claimed_by_exactly_its_layout() -> None:
    model = build_model(resolve(TINY_BASIC)).eval()
    sd = model.state_dict()
    for source, name in ((d2_names(sd), "detectron2"), (caffe2_blobs(sd), "caffe2"), (tv_quantized(model), "tv-quantized")):
        assert [layout.name for layout in LAYOUTS if layout.matches(source.keys())] == [name]


# --- hostile and broken .pkl files ----------------------------------------------------------------
class _Touches:
    def __init__(self, marker: Path, how: str) -> None:
        self.marker, self.how = marker, how

    def __reduce__(self) -> tuple[Any, ...]:
        if self.how == "system":
            return (os.system, (f"touch {self.marker}",))
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


@pytest.mark.parametrize("how", ["system", "eval"])
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pkl_that_would_run_code_is_refused_and_nothing_runs(
    tmp_path: Path, runner: CliRunner, how: str, protocol: int
) -> None:
    marker = tmp_path / "ran"
    path = _pkl(tmp_path / "evil.pkl", {"model": {"stem.conv1.weight": np.ones(2, np.float32),
                                                  "x": _Touches(marker, how)}}, protocol)  # fmt: skip
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert "refused: unpickling it would import" in line and ("system" in line or "eval" in line)
    assert not marker.exists()


def test_numpy_globals_beyond_arrays_are_refused(tmp_path: Path) -> None:
    """numpy.load (which may unpickle with allow_pickle), a subclass handed to _reconstruct,
    an array of Python objects: each refused in one line."""
    core = "numpy._core" if hasattr(np, "_core") else "numpy.core"
    attacks = {
        "load": b"\x80\x02cnumpy\nload\nq\x00X\x01\x00\x00\x00xq\x01\x85q\x02Rq\x03.",
        "subclass": (b"\x80\x02c" + core.encode() + b".multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85C\x01b\x87R."),
    }
    for name, data in attacks.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as caught:
            read_checkpoint(path)
        assert "\n" not in str(caught.value) and ("refused" in str(caught.value)), name
    objects = _pkl(tmp_path / "objects.pkl", {"model": {"w": np.array([1, "a"], dtype=object)}})
    with pytest.raises(CheckpointError, match="holds an array of dtype '\\|O', which is no number"):
        read_checkpoint(objects)


def test_a_truncated_pkl_is_one_line(tmp_path: Path, runner: CliRunner) -> None:
    data = pickle.dumps({"model": _numpy(d2_names(_model(TINY_BASIC).state_dict()))}, protocol=4)
    for cut in (len(data) // 2, 40):
        path = tmp_path / "cut.pkl"
        path.write_bytes(data[:cut])
        result = runner.invoke(app, ["identify", str(path)])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "truncated or corrupt" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_more_arrays_than_the_limit_are_refused_while_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The count is kept as arrays are rebuilt: the reader stops at limit + 1, not at the end."""
    monkeypatch.setattr(read_module, "MAX_FILE_TENSORS", 10)
    path = _pkl(tmp_path / "many.pkl", {f"a{i}": np.zeros(1, np.float32) for i in range(1000)})
    with pytest.raises(CheckpointError, match="more than the 10 arrays this tool reads"):
        read_checkpoint(path)
    unpickler = safe_pickle.ArrayUnpickler(path.open("rb"), max_arrays=10)
    with pytest.raises(safe_pickle.TooManyArrays):
        unpickler.load()
    assert unpickler.arrays == 11


def test_without_numpy_one_line_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _pkl(tmp_path / "r.pkl", {"model": {"w": np.ones(2, np.float32)}})
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)  # import numpy raises
    with pytest.raises(CheckpointError, match="needs numpy: pip install numpy") as caught:
        read_checkpoint(path)
    assert "\n" not in str(caught.value)


def test_a_torch_legacy_file_named_pkl_is_still_torchs(tmp_path: Path) -> None:
    """torch.save's legacy format is a pickle too; its magic number, not the suffix, decides."""
    sd = build_model(resolve(TINY_BASIC)).state_dict()
    path = tmp_path / "legacy.pkl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(sd, path, _use_new_zipfile_serialization=False)
    assert read_checkpoint(path).format is read_module.FileFormat.TORCH_LEGACY
