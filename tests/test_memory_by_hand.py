"""Activation memory of one-block networks, counted by hand, tensor by tensor.

Rules (docs/counting.md, tracing.peak_activations / saved_for_backward):

* inference peak: the largest set of tensors alive at once at any operation (a leaf's, or a
  block's own residual addition): its inputs and output (one tensor where they are the same
  object: in-place ReLU, Identity), every tensor still to be read later (the residual
  branch's result waiting for the addition), the arguments of every module still running
  (a block's input, held until the block returns), and the network's input throughout (its
  caller holds it); test_peak_estimate_equals_eager_pytorch checks the rule against memory
  measured in real forward passes;
* kept for backward (training): inputs of conv, linear, norm and max-pool, outputs of ReLU,
  max-pool's int64 indices; each distinct tensor once.

Sizes are written as channels * height * width of each tensor, element counts times the
dtype's bytes.
"""

from __future__ import annotations

import copy
import weakref
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from resnet_inspect import build, resolve, trace

# internals (module paths may be renamed: keep these lines together)
from resnet_inspect.model import build_model
from resnet_inspect.tracing import trace_model, trace_spec

F32 = 4

# --- a basic block with an identity shortcut -----------------------------------------------------
BASIC = "block=basic,layers=1,widths=8,stem=cifar,stem_width=8,num_classes=10"
BASIC_INPUT = (1, 3, 8, 8)
X = 3 * 8 * 8  # the input image
A = 8 * 8 * 8  # every activation of the stem and the block: 8 channels at 8x8
POOLED, LOGITS = 8, 10


def test_basic_block_inference_peak_by_hand() -> None:
    """Operation by operation (elements alive; X, the input, throughout):
        stem conv1: X + A = 704   bn1: X + A + A = 1216   relu (in place): X + A = 704
        layer1.0.conv1: its input IS the block input: X + A + A = 1216
        bn1: X + block input + conv1 out + bn1 out = X + 3A = 1728     relu1: X + 2A
        conv2: X + 3A   bn2: X + 3A   the addition: X + 3A   relu2 (in place): X + 2A
        avgpool: X + A + 8   fc: X + 8 + 10
    The peak is X + 3A: the block input, held for the shortcut, next to a norm's input and
    output. Catches the shortcut's hold forgotten (X + 2A), the block input counted twice
    where it is also the conv's input (X + 4A), or the input let go (3A)."""
    peak = (X + 3 * A) * F32
    assert peak == 6912
    assert trace(BASIC, input_shape=BASIC_INPUT).totals.peak_activation_bytes == peak


def test_basic_block_kept_for_backward_by_hand() -> None:
    """Saved, each tensor once:
        stem conv1 input X; bn1 input (conv out) A; relu output A (bn1's output, in place)
        layer1.0.conv1 input = the stem relu's output: already counted
        bn1 input A; relu1 output A; conv2 input = relu1's output: already counted
        bn2 input A; relu2 output (the sum, in place) A
        global avgpool: nothing; fc input: the 8 pooled features
    = X + 6A + 8 elements. Catches a tensor counted once per saver (conv1 and relu both save
    the same tensor), the block's addition or the global pool counted, fc's input missed."""
    kept = (X + 6 * A + POOLED) * F32
    assert kept == 13088
    assert trace(BASIC, input_shape=BASIC_INPUT).totals.training_activation_bytes == kept


# --- a bottleneck with a projection shortcut, behind the classic stem ---------------------------
BOTTLENECK = "block=bottleneck,layers=1,widths=8,stem=classic,stem_width=8,num_classes=10"
BOTTLENECK_INPUT = (1, 3, 16, 16)
# stem: conv1 7x7/2 -> 8x8x8, bn1, relu, max-pool 3x3/2 -> 4x4x8 (the block input, M).
# block (4x4): conv1 1x1 8 -> 8, conv2 3x3 8 -> 8, conv3 1x1 8 -> 32; the shape changes
# (8 -> 32 channels), so downsample.0 is a 1x1 conv 8 -> 32 and downsample.1 its norm.
B_X = 3 * 16 * 16  # 768
B_STEM = 8 * 8 * 8  # 512: conv1 out, bn1 out
B_M = 8 * 4 * 4  # 128: max-pool out = the block input
B_INNER = 8 * 4 * 4  # 128: conv1/bn1/conv2/bn2 out
B_OUT = 32 * 4 * 4  # 512: conv3/bn3/downsample out, the sum


def test_bottleneck_projection_inference_peak_by_hand() -> None:
    """Operation by operation (elements alive; X = 768, the input, in every line but the first):
        stem conv1: X + stem = 768 + 512 = 1280     bn1: 1024   relu: 512   maxpool: 640
        block conv1: M + inner = 256    bn1, conv2, bn2: M + 2 inner = 384
        conv3: inner + out + M = 768    bn3: 2 out + M = 1152
        downsample.0: M (its input) + out + residual result waiting = 128 + 512 + 512 = 1152
        downsample.1: out + out + M + residual result = 512 * 3 + 128 = 1664
        the addition: residual result + shortcut + sum + M = 1664
        relu3: out + M = 640
    Peak X + 1664 = 2432 in the projection's norm and the addition. Catches the residual
    result's wait forgotten (X + 1152), or the block input's hold forgotten (X + 1536)."""
    peak = (B_X + 3 * B_OUT + B_M) * F32
    assert peak == 9728
    assert trace(BOTTLENECK, input_shape=BOTTLENECK_INPUT).totals.peak_activation_bytes == peak


def _bottleneck_kept_elements() -> tuple[int, int]:
    """(float elements, int64 index elements) kept for backward."""
    floats = (
        B_X  # stem conv1 input
        + B_STEM  # bn1 input (conv1 out)
        + B_STEM  # relu output (= bn1 out in place; also max-pool's input: once)
        + B_M  # block conv1 input (= max-pool out; downsample.0's input too: once)
        + B_INNER + B_INNER  # bn1 input, relu1 output (= conv2 input: once)
        + B_INNER + B_INNER  # bn2 input, relu2 output (= conv3 input: once)
        + B_OUT  # bn3 input
        + B_OUT  # downsample.1 input (downsample.0's output)
        + B_OUT  # relu3 output (the sum)
        + 32  # fc input (pooled)
    )
    return floats, B_M  # one int64 index per max-pool output


def test_bottleneck_projection_kept_for_backward_by_hand() -> None:
    """Catches the shortcut conv's input counted again (it is the block input conv1 saved),
    the max-pool's indices forgotten or sized as activations, the projection's norm missed."""
    floats, indices = _bottleneck_kept_elements()
    assert floats == 4000
    kept = floats * F32 + indices * 8
    assert kept == 17024
    assert trace(BOTTLENECK, input_shape=BOTTLENECK_INPUT).totals.training_activation_bytes == kept


def test_max_pool_indices_stay_int64_in_half_precision() -> None:
    """In float16 activations take 2 bytes but max-pool's indices still take 8. Catches the
    indices sized by the activation dtype (128 * 2 instead of 128 * 8)."""
    floats, indices = _bottleneck_kept_elements()
    t = trace_spec(resolve(BOTTLENECK), BOTTLENECK_INPUT, dtype="float16")
    assert t.totals.training_activation_bytes == floats * 2 + indices * 8 == 9024
    assert t.totals.peak_activation_bytes == (B_X + 3 * B_OUT + B_M) * 2


# --- in-place ReLU counts once: norm=none, where nothing else hides it ----------------------------
# With norm=none every norm is an Identity (it returns its input object), so the stem's ReLU is
# the one leaf where an in-place tensor counted twice sets the peak.
NO_NORM = "block=basic,layers=1,widths=4,stem=cifar,stem_width=16,norm=none,num_classes=10,in_chans=1"
NO_NORM_INPUT = (1, 1, 4, 4)
HW = 4 * 4
# Per pixel (x HW): input 1 (alive throughout: +1 in every line after the first), stem 16
# channels, block 4 channels, projection 16 -> 4 (stride 1).
#   stem conv1: 1 + 16 = 17   bn1 (Identity): 16   relu (in place): 16 (32 if counted twice)
#   block conv1: block input 16 + 4 = 20   identity, relu1: 20   conv2: 4 + 4 + 16 = 24
#   bn2 identity: 20   downsample.0: 16 + 4 + residual 4 = 24   downsample.1 identity: 24
#   the addition: residual 4 + shortcut 4 + the sum 4 + the block input 16 = 28
#   relu2 (in place): 4 + 16 = 20
NO_NORM_PEAK = (28 + 1) * HW * F32  # 1856 bytes


def test_in_place_relu_counts_once_with_real_tensors() -> None:
    """Traced with real CPU tensors the in-place ReLU returns its input object: 29 * HW."""
    spec = resolve(NO_NORM)
    t = trace_model(build_model(spec, "cpu"), NO_NORM_INPUT, device="cpu")
    assert t.totals.peak_activation_bytes == NO_NORM_PEAK


def test_in_place_relu_counts_once_on_the_meta_device() -> None:
    """The default trace (meta device) must agree with the rule and with the CPU trace.
    Catches an in-place ReLU counted as input + output (the stem's 32 * HW would be the peak)."""
    assert trace(NO_NORM, input_shape=NO_NORM_INPUT).totals.peak_activation_bytes == NO_NORM_PEAK


def test_no_norm_kept_for_backward_by_hand() -> None:
    """Identity norms save nothing; biases change nothing. Saved: stem conv input 1*HW, stem
    relu output 16*HW (= block conv1's and the projection's input: once), relu1 output 4*HW
    (= conv2's input), relu2 output 4*HW, fc input 4. Catches an Identity counted as a norm
    (saving its input) or the projection's input counted again."""
    kept = (1 * HW + 16 * HW + 4 * HW + 4 * HW + 4) * F32
    assert kept == 1616
    assert trace(NO_NORM, input_shape=NO_NORM_INPUT).totals.training_activation_bytes == kept


# --- what autograd really keeps, for the same networks --------------------------------------------
def _autograd_saved_bytes(arch: str, shape: tuple[int, ...]) -> int:
    """Bytes of the distinct activations a real training-mode forward saves for backward
    (parameters and 1-D per-channel statistics left out, as the tool leaves them out)."""
    torch.manual_seed(0)
    model = build(arch).train()
    params = {p.data_ptr() for p in model.parameters()}
    saved: dict[tuple[int, int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in params and t.dim() > 1:
            saved[(t.data_ptr(), t.numel(), t.element_size())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(shape))
    return sum(saved.values())


@pytest.mark.parametrize(
    ("arch", "shape", "hand"),
    [
        (BASIC, BASIC_INPUT, (X + 6 * A + POOLED) * F32),
        (BOTTLENECK, BOTTLENECK_INPUT, 4000 * F32 + 128 * 8),
        (NO_NORM, NO_NORM_INPUT, (1 * HW + 16 * HW + 4 * HW + 4 * HW + 4) * F32),
    ],
)
def test_hand_counts_are_what_autograd_saves(arch: str, shape: tuple[int, ...], hand: int) -> None:
    """tests/test_flops.py checks presets at batch 2; this covers batch 1, a projection right
    after the max-pool, and norm=none (conv biases, Identity norms). Catches a hand rule above
    that autograd does not follow."""
    assert _autograd_saved_bytes(arch, shape) == hand


# --- branches: a Res2Net-style split, held until the concatenation ------------------------------
def test_split_branches_are_held_until_they_are_merged() -> None:
    """Input X: 8 channels at 4x4 (128 elements), split into four 2-channel views (32 each: no
    new memory). o1 = conv(part1); s2 = part2 + o1, o2 = conv(s2); s3 = part3 + o2,
    o3 = conv(s3); out = cat(part0, o1, o2, o3) (128). X is the module's argument, held
    throughout. Alive:
        conv on part1: X + o1 = 160            part2 + o1: X + o1 + s2 = 192
        conv on s2: X + o1 + s2 + o2 = 224     part3 + o2: X + o1 + o2 + s3 = 224
        conv on s3: X + o1 + o2 + s3 + o3 = 256
        cat: X + o1 + o2 + o3 + out = 352
    Catches the branches forgotten while they wait for the cat (288 at most), and the split's
    views counted as copies (480)."""
    from test_tracing_graph import Hierarchical

    model = Hierarchical(8)
    for p in model.parameters():
        p.requires_grad_(False)
    t = trace_model(model, (1, 8, 4, 4))
    assert t.totals.peak_activation_bytes == 352 * F32


# --- the rule against eager PyTorch ------------------------------------------------------------
class LiveBytes(TorchDispatchMode):
    """Bytes of tensors alive during a real forward pass: every operation's output storage
    from when it is made until the last tensor viewing it is garbage-collected (parameters
    and buffers excluded). An independent measurement: it knows nothing of the trace.
    benchmarks/peak_memory.py uses it on every preset."""

    def __init__(self, static: set[int]) -> None:
        super().__init__()
        self.static, self.refs, self.size = static, {}, {}
        self.live = self.peak = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if not isinstance(t, torch.Tensor):
                continue
            key = t.untyped_storage().data_ptr()
            if key in self.static or key == 0:
                continue
            if key not in self.refs:
                self.refs[key], self.size[key] = 0, t.untyped_storage().nbytes()
                self.live += self.size[key]
                self.peak = max(self.peak, self.live)
            self.refs[key] += 1
            weakref.finalize(t, self._drop, key)
        return out

    def _drop(self, key: int) -> None:
        self.refs[key] -= 1
        if not self.refs[key]:
            self.live -= self.size.pop(key)
            del self.refs[key]


def eager_peak(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    model.eval()
    static = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    x = torch.rand(shape)
    mode = LiveBytes(static)
    with torch.no_grad(), mode:
        model(x)
    return mode.peak + x.numel() * x.element_size()


@pytest.mark.parametrize(
    ("source", "shape"),
    [("resnet18", (1, 3, 32, 32)), ("resnet50", (2, 3, 32, 32)), ("resnet20", (1, 3, 32, 32)),
     ("resnet50d:replace_stride_with_dilation=0,1,1", (1, 3, 32, 32)),
     ("seresnext26t_32x4d", (1, 3, 32, 32)), ("resnet18:norm=none", (1, 3, 32, 32)),
     ("ResNet50V1", (1, 3, 224, 224)), ("CifarResNet20", (2, 3, 32, 32)),
     ("Hierarchical", (1, 8, 8, 8)), ("resnet50_clip:img_size=64", (2, 3, 64, 64))],
)  # fmt: skip
def test_peak_estimate_equals_eager_pytorch(source: str, shape: tuple[int, ...]) -> None:
    """The meta-device estimate against bytes measured in a real CPU pass, for presets and a
    split into branches: equal, up to a few KiB of a gate's N x C x 1 x 1 temporaries.
    Hand-written forwards (a v1 ResNet-50 that reuses one ReLU per block, at the 224 x 224 its
    fixed AvgPool2d(7) needs; a CIFAR ResNet-20 with its own option-A slicing and padding) can
    hold tensors in their variables after the last use (``y = relu(bn2(conv2(y)))`` keeps the
    old y until the line ends), which no trace sees: there the estimate is a floor, and the
    report says "at least". Catches a rule that forgets the input, the blocks' holds, or a
    branch waiting for its merge."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "user_models"))
    import seed_style
    from test_tracing_graph import Hierarchical

    if hasattr(seed_style, source):
        model: torch.nn.Module = getattr(seed_style, source)()
    elif source == "Hierarchical":
        model = Hierarchical(8)
    else:
        model = build(source)
    meta = trace_model(copy.deepcopy(model).to("meta"), shape).totals.peak_activation_bytes
    eager = eager_peak(model, shape)
    if hasattr(seed_style, source):
        assert meta <= eager <= 1.3 * meta
    else:
        assert abs(meta - eager) <= 2048


def test_the_estimates_do_not_depend_on_which_ids_python_reuses() -> None:
    """BiT's convs standardise their weights through temporary views that are freed at once; a
    later activation could take a freed view's id and the estimates would change from run to
    run (966,656 and 901,120 bytes for the same network were seen). Catches ids of tensors the
    pass touched being reused before it ends."""
    runs = [trace("resnetv2_50x1_bit:layers=1,1,1,1", input_shape=(1, 3, 64, 64)).totals for _ in range(4)]
    assert len({(t.peak_activation_bytes, t.training_activation_bytes) for t in runs}) == 1


@pytest.mark.parametrize("arch", ["resnet50_clip:img_size=64", "resnet50x4_clip:img_size=64"])
def test_attention_pool_kept_for_backward_is_what_autograd_saves(arch: str) -> None:
    """CLIP's attention pool multiplies activations by activations (both kept: Saves.INPUTS)
    and q by 1/sqrt(d), a number (nothing kept). Catches one matmul operand forgotten (the
    keys, 5 x 2048 floats per image here) and the scaled q counted (2048 floats per image)."""
    shape = (2, 3, 64, 64)
    assert trace(arch, input_shape=shape).totals.training_activation_bytes == _autograd_saved_bytes(arch, shape)
