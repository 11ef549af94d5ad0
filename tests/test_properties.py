"""Properties over the whole variant space (hypothesis): every valid spec a user can type is
traced right, and every invalid one is refused with the project's own error.

Each valid draw is checked against something that does not share our code:
- shapes: a real forward pass on CPU with real tensors (the meta trace uses closed-form
  shape rules in shapes.py);
- parameters: ``sum(p.numel())`` and torchinfo; conv/linear MACs: fvcore;
- receptive field and jump: measured with autograd, as the extent of the input pixels that
  reach one output pixel of the last stage.
"""

from __future__ import annotations

import math
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
import torchinfo
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from resnet_inspect.checkpoint import (
    load_weights_into,
    read_checkpoint,
    verify_weights,
)
from resnet_inspect.counters.fvcore import fvcore_counts
from resnet_inspect.errors import SpecError
from resnet_inspect.identification.proof import identify_checkpoint
from resnet_inspect.model import build_model
from resnet_inspect.model.selective_kernel import SelectiveKernelAttn
from resnet_inspect.spec import (
    BLOCK_TYPES,
    FIELD_NAMES,
    PRESETS,
    Block,
    Norm,
    ResNetSpec,
    Shortcut,
    Stem,
    StrideIn,
    parse_spec_string,
    resolve,
    spec_string,
)
from resnet_inspect.tracing import trace_model

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- drawing valid specs -------------------------------------------------------------------
@st.composite
def valid_specs(draw: st.DrawFn) -> ResNetSpec:
    """A random valid variant with tiny widths, built by construction (few rejections)."""
    block = draw(st.sampled_from(Block))
    norm = draw(st.sampled_from(Norm))
    n = draw(st.integers(1, 5))
    step = 32 if norm is Norm.GROUP else 8  # GroupNorm(32) needs multiples of 32
    width = st.integers(1, 64 // step).map(lambda k: k * step)
    widths = draw(st.lists(width, min_size=n, max_size=n))
    shortcut = draw(st.sampled_from(Shortcut))
    stem = draw(st.sampled_from(Stem))
    stem_width = draw(width)
    reads = BLOCK_TYPES[block].fields
    groups, per_group, stride_in = 1, 64, StrideIn.CONV3X3
    if "groups" in reads:
        groups = draw(st.sampled_from([1, 2, 4, 8]))
        per_group = draw(st.sampled_from([4, 8, 16, 32, 64, 128]))
    if "stride_in" in reads:
        stride_in = draw(st.sampled_from(StrideIn))
    if shortcut is Shortcut.A:  # zero-padding can only add channels
        widths.sort()
        stem_width = min(stem_width, widths[0] * BLOCK_TYPES[block].expansion)
        if stem is Stem.DEEP:
            stem_width = max(step, stem_width // 2 // step * step)
    fields: dict[str, Any] = dict(
        block=block,
        layers=tuple(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))),
        widths=tuple(widths),
        groups=groups,
        width_per_group=per_group,
        stem=stem,
        stem_width=stem_width,
        avg_down=shortcut is not Shortcut.A and draw(st.booleans()),
        shortcut=shortcut,
        stride_in=stride_in,
        replace_stride_with_dilation=tuple(draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))),
        norm=norm,
        zero_init_residual=draw(st.booleans()),
        num_classes=draw(st.integers(1, 20)),
        in_chans=draw(st.integers(1, 4)),
    )
    try:
        return ResNetSpec(**fields)
    except SpecError:
        # the rare rest: a ResNeXt inner width that is 0 or not a multiple of 32 under GroupNorm,
        # or a deep stem wider than stage 1 under shortcut A
        assume(False)
        raise


def input_shapes(spec: ResNetSpec) -> st.SearchStrategy[tuple[int, int, int, int]]:
    side = st.integers(1, 96)
    return st.tuples(st.integers(1, 3), st.just(spec.in_chans), side, side)


specs_and_inputs = valid_specs().flatmap(lambda s: st.tuples(st.just(s), input_shapes(s)))


def real_output_shapes(model: nn.Module, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Every module's output shape in a real forward pass on CPU (eval mode: batch 1 is fine)."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = [
        m.register_forward_hook(lambda _m, _a, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
        for name, m in model.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.randn(shape))
    finally:
        for h in handles:
            h.remove()
    return shapes


# --- valid specs: the trace agrees with what really runs ----------------------------------
@FAST
@given(specs_and_inputs)
def test_every_traced_shape_equals_a_real_forward_pass(case: tuple[ResNetSpec, tuple[int, ...]]) -> None:
    spec, shape = case
    try:
        real = real_output_shapes(build_model(spec), shape)
    except (RuntimeError, ValueError):  # too small for this network: the trace must say so
        with pytest.raises(SpecError, match="input_shape"):  # the library names the argument
            trace_model(build_model(spec, "meta"), shape)
        return
    traced = trace_model(build_model(spec, "meta"), shape)
    # a container the pass never calls (Res2Net's convs) has no output: its members do
    assert {r.name: r.output_shape for r in traced.layers if r.ran} == real
    assert traced.output_shape == (shape[0], spec.num_classes)


@FAST
@given(valid_specs())
def test_spec_string_round_trips(spec: ResNetSpec) -> None:
    # the spec string is what JSON reports and diff/list print: it must rebuild the same model
    assert resolve(spec_string(spec)) == spec


@SLOW
@pytest.mark.slow
@given(specs_and_inputs)
def test_params_and_macs_equal_torchinfo_and_fvcore(case: tuple[ResNetSpec, tuple[int, ...]]) -> None:
    spec, (_, *image) = case
    shape = (2, *image)  # batch 2 runs on any input size (GroupNorm refuses one value per group)
    model = build_model(spec)
    traced = trace_model(build_model(spec, "meta"), shape)
    assert traced.totals.params == sum(p.numel() for p in model.parameters())
    info = torchinfo.summary(model, input_size=shape, verbose=0, device="cpu", mode="eval")
    assert traced.totals.params == info.total_params
    fv = fvcore_counts(build_model(spec, "meta"), shape)
    ours = traced.by_name()
    for name, count in fv.items():
        if name and name in ours and ours[name].is_leaf:
            assert ours[name].macs == count.macs, name
    assert traced.totals.macs == fv[""].macs


# --- receptive field, measured --------------------------------------------------------------
def _measuring_copy(spec: ResNetSpec) -> nn.Module:
    """The same geometry, made to pass gradient everywhere: no normalisation, every conv an
    average of its window (positive weights, so nothing cancels), max-pools as average pools
    of the same window (a max-pool's gradient reaches only the winning pixel)."""
    model = build_model(spec.replace(norm=Norm.NONE)).double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / (m.weight[0].numel()))
                if m.bias is not None:  # the selective-kernel attention's convs have none
                    m.bias.fill_(1.0)
    for m in model.modules():
        if isinstance(m, SelectiveKernelAttn):
            # its weights come from the paths' global means, like an SE gate: conventionally
            # no part of the field, so the measurement passes no gradient through them
            m.register_forward_hook(lambda _m, _args, out: out.detach())
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.MaxPool2d):
            parent, _, attr = name.rpartition(".")
            pool = nn.AvgPool2d(m.kernel_size, m.stride, m.padding)  # type: ignore[arg-type]
            setattr(model.get_submodule(parent) if parent else model, attr, pool)
    return model


def _span(model: nn.Module, width: int, channels: int, column: int) -> tuple[int, int] | None:
    """First and last input column whose value reaches output column ``column`` of the last
    stage, on a 1-pixel-high input (every layer keeps height 1, so columns are independent)."""
    x = torch.ones((1, channels, 1, width), dtype=torch.float64, requires_grad=True)
    out = model.forward_features(x)  # type: ignore[operator]
    if not 0 <= column < out.shape[-1]:
        return None
    out[0, :, 0, column].sum().backward()
    assert x.grad is not None
    hit = (x.grad[0].abs().sum(0)[0] > 0).nonzero().flatten().tolist()
    return hit[0], hit[-1]


def measured_receptive_field(spec: ResNetSpec) -> tuple[int, int]:
    model = _measuring_copy(spec)
    width = 256
    while True:
        probe = model.forward_features(torch.ones((1, spec.in_chans, 1, width), dtype=torch.float64))  # type: ignore[operator]
        centre = probe.shape[-1] // 2
        a, b = _span(model, width, spec.in_chans, centre), _span(model, width, spec.in_chans, centre + 1)
        if a and b and a[0] > 0 and b[1] < width - 1:  # not clipped by the borders
            return a[1] - a[0] + 1, b[0] - a[0]
        width *= 2
        assert width <= 2**16, "receptive field larger than any input tried"


@FAST
@pytest.mark.slow
@given(valid_specs())
def test_receptive_field_and_jump_equal_a_measurement(spec: ResNetSpec) -> None:
    traced = trace_model(build_model(spec, "meta"), spec.default_input_shape())
    assert (traced.totals.receptive_field, traced.totals.jump) == measured_receptive_field(spec)


# --- checkpoints ------------------------------------------------------------------------------
@SLOW
@pytest.mark.slow
@given(valid_specs())
def test_state_dict_round_trips_through_save_and_weights_load(spec: ResNetSpec) -> None:
    original = build_model(spec).state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.pth"
        torch.save(original, path)
        verify_weights(spec, path)  # what --weights checks on the meta device
        model = build_model(spec)
        load_weights_into(model, path)  # what --weights loads into a real model
        loaded = model.state_dict()
        assert loaded.keys() == original.keys()
        assert all(torch.equal(loaded[k], original[k]) for k in original)
        found = identify_checkpoint(read_checkpoint(path))
        assert found.proved, found.identified.spec_string


# --- invalid specs: the project's error, naming the field -----------------------------------
def _not_a_count(text: str, least: int = 1) -> bool:
    try:
        return int(text) < least
    except ValueError:
        return True


def _field_values() -> dict[str, st.SearchStrategy[Any]]:
    junk = st.one_of(st.text(max_size=6).filter(_not_a_count), st.integers(-3, 0), st.floats())
    # num_classes=0 is a headless net (timm's meaning): its least is 0, not 1
    not_classes = st.one_of(st.text(max_size=6).filter(lambda t: _not_a_count(t, 0)), st.integers(-3, -1),
                            st.floats())  # fmt: skip
    return {
        "block": st.text(max_size=8).filter(lambda t: t.strip().lower() not in ("basic", "bottleneck")),
        "stem": st.sampled_from(["big", "", "resnet", "7x7"]),
        "shortcut": st.sampled_from(["D", "a b", "", "0"]),
        "stride_in": st.sampled_from(["2x2", "3", "", "x"]),
        "norm": st.sampled_from(["layer", "bn", "", "instance"]),
        "groups": junk,
        "width_per_group": junk,
        "stem_width": junk,
        "num_classes": not_classes,
        "in_chans": junk,
        "avg_down": st.sampled_from(["maybe", "2", "", "tru"]),
        "zero_init_residual": st.sampled_from(["maybe", "-1", "nope"]),
        "layers": st.sampled_from(["", "0", "1,,2", "a,b", "-1,2", "1.5"]),
        "widths": st.sampled_from(["", "0,64", "x", "64,", "8.0"]),
        "replace_stride_with_dilation": st.sampled_from(["2", "x", "1,,0", "maybe"]),
    }


BAD_VALUES = _field_values()


@FAST
@given(st.sampled_from(sorted(BAD_VALUES)).flatmap(lambda f: st.tuples(st.just(f), BAD_VALUES[f])))
def test_a_malformed_field_value_names_the_field(case: tuple[str, Any]) -> None:
    field, value = case
    for make in (lambda: ResNetSpec(**{field: value}), lambda: resolve("resnet50", **{field: value})):
        with pytest.raises(SpecError) as err:
            make()
        assert field in str(err.value)
    if isinstance(value, str) and "," not in value and ":" not in value and "=" not in value:
        with pytest.raises(SpecError, match=field):
            resolve(f"resnet50:{field}={value}")


# (what breaks a rule, the field the message must name)
@st.composite
def inconsistent_specs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    n = draw(st.integers(1, 4))
    layers = tuple(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    rule = draw(st.sampled_from(["widths", "dilation", "basic", "stride_in", "avg_down", "pad", "gn", "empty"]))
    if rule == "widths":
        m = draw(st.integers(1, 6).filter(lambda m: m != n))
        return dict(layers=layers, widths=(8,) * m), "widths"
    if rule == "dilation":
        m = draw(st.integers(0, 5).filter(lambda m: m != n - 1))
        return dict(layers=layers, replace_stride_with_dilation=(True,) * m), "replace_stride_with_dilation"
    if rule == "basic":
        groups, per_group = draw(st.tuples(st.integers(1, 64), st.integers(1, 256)).filter(lambda t: t != (1, 64)))
        named = "groups" if groups != 1 else "width_per_group"  # the field that is set
        return dict(block="basic", layers=layers, groups=groups, width_per_group=per_group), named
    if rule == "stride_in":
        return dict(block="basic", layers=layers, stride_in="1x1"), "stride_in"
    if rule == "avg_down":
        return dict(layers=layers, avg_down=True, shortcut="A"), "avg_down"
    if rule == "pad":
        big = draw(st.integers(9, 64))
        return dict(block="basic", layers=layers, shortcut="A", stem_width=big, widths=(8,) * n), "shortcut"
    if rule == "gn":
        odd = draw(st.integers(1, 200).filter(lambda w: w % 32))
        return dict(layers=layers, norm="group", stem_width=odd), "norm"
    return dict(layers=()), "layers"


@FAST
@given(inconsistent_specs())
def test_an_inconsistent_spec_names_the_field(case: tuple[dict[str, Any], str]) -> None:
    fields, named = case
    with pytest.raises(SpecError) as err:
        ResNetSpec(**fields)
    assert named in str(err.value)


SPEC_ALPHABET = string.ascii_lowercase + string.digits + ":=,_- x"
SPEC_PIECES = st.sampled_from([*PRESETS, *FIELD_NAMES, ":", "=", ",", "1", "0", "x", "3x3", "A", "true", " "])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=SPEC_ALPHABET), st.lists(SPEC_PIECES, max_size=12).map("".join)))
def test_random_spec_text_parses_or_raises_spec_error(text: str) -> None:
    try:
        parse_spec_string(text)
        spec = resolve(text)
    except SpecError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip()
        return
    assert isinstance(spec, ResNetSpec)
    assert math.prod(spec.layers) >= 1
