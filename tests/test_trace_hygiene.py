"""A trace leaves the model it traced as it found it: no hooks left behind, the train/eval mode
of every module restored, grad mode and torch's function-mode stack untouched; the same when
the trace fails half-way through the network.

A hook left behind would run (and hold every activation alive) on each of the user's later
forward passes; a mode not restored would silently change batch norm's behaviour in training.
"""

from __future__ import annotations

import gc

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_inspect import SpecError, resolve

# internals (module paths may be renamed: keep these lines together)
from resnet_inspect.model import build_model
from resnet_inspect.tracing import trace_model

SMALL = "resnet18:layers=1,1,widths=8,16,stem_width=8,num_classes=10"
SMALL_INPUT = (1, 3, 32, 32)
# Runs at 4x4, but fails half-way at 2x2: layer2 (stride 2) makes a 1x1 map of 32 channels,
# and GroupNorm(32, 32) then has one value per group, which torch refuses (meta and CPU alike).
FAILS_IN_LAYER2 = "block=basic,layers=1,1,widths=64,32,stem=cifar,stem_width=64,norm=group,num_classes=10"
TOO_SMALL = (1, 3, 2, 2)
DEVICES = ["meta", "cpu"]


def _hooks_left(model: nn.Module) -> list[str]:
    left = []
    for name, m in model.named_modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs",
                     "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called"):  # fmt: skip
            if getattr(m, attr, None):
                left.append(f"{name or '<root>'}.{attr}")
    return left


def _modes(model: nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


def _no_global_state_left() -> None:
    """Grad mode back on, and no TorchFunctionMode (the meta trace's ShapeRules) still on the
    stack: with it, every later F.relu(x, inplace=True) would return a new tensor. Python's
    cycle collector, which the trace pauses, running again."""
    assert torch.is_grad_enabled()
    assert gc.isenabled()
    x = torch.empty(1, 2, 2, 2, device="meta")
    assert F.relu(x, inplace=True) is x
    assert not nn.modules.module._global_forward_hooks
    assert not nn.modules.module._global_forward_pre_hooks


def _trace(spec: str, device: str, training: bool, shape: tuple[int, ...]) -> nn.Module:
    model = build_model(resolve(spec), device).train(training)
    before = _modes(model)
    trace_model(model, shape, device=device)
    assert _hooks_left(model) == []
    assert _modes(model) == before
    return model


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_a_trace_leaves_no_hooks_and_every_mode_as_it_was(device: str, training: bool) -> None:
    """Catches hooks not removed, the root's mode restored but not the submodules', and a
    model left in eval after the trace switched it there (or put in train when it was eval)."""
    model = _trace(SMALL, device, training, SMALL_INPUT)
    assert all(m.training is training for m in model.modules())
    _no_global_state_left()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_a_failed_trace_leaves_no_hooks_and_every_mode_as_it_was(device: str, training: bool) -> None:
    """The trace raises SpecError naming where it failed (layer2.0.bn1); hooks are gone, modes
    are back, no function mode is left on torch's stack. Catches cleanup that only runs on
    success (hooks removed after the pass instead of in a finally)."""
    model = build_model(resolve(FAILS_IN_LAYER2), device).train(training)
    before = _modes(model)
    with pytest.raises(SpecError, match=r"layer2\.0\.bn1"):
        trace_model(model, TOO_SMALL, device=device)
    assert _hooks_left(model) == []
    assert _modes(model) == before
    _no_global_state_left()
    # and the same model still traces normally afterwards
    assert trace_model(model, (1, 3, 4, 4), device=device).output_shape == (1, 10)
    assert _hooks_left(model) == []


def test_a_trace_repeated_on_one_model_gives_the_same_result() -> None:
    """Catches state carried over from one trace to the next (hooks stacking up, records of
    the previous pass reused)."""
    model = build_model(resolve(SMALL), "meta")
    first = trace_model(model, SMALL_INPUT)
    assert trace_model(model, SMALL_INPUT) == first
    other = (2, 3, 64, 64)
    assert trace_model(model, other) == trace_model(build_model(resolve(SMALL), "meta"), other)


@pytest.mark.parametrize("device", DEVICES)
def test_a_frozen_batch_norm_stays_frozen(device: str) -> None:
    """Fine-tuning keeps some norms in eval inside a model in train mode. Catches a restore
    that only remembers the root's mode."""
    model = build_model(resolve(SMALL), device).train()
    model.bn1.eval()
    model.layer1[0].bn2.eval()
    before = _modes(model)
    trace_model(model, SMALL_INPUT, device=device)
    assert _modes(model) == before
