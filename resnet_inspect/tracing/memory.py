"""Activation memory: the inference peak and what a training step keeps for backward.

Both are estimates this project defines (no outside tool reports them); the rules are stated
here and tested by hand in tests/test_memory_by_hand.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..model import ResidualBlock
from .costs import Saves
from .recorder import Recorded


@dataclass
class Seen:
    """A module's call as the hooks saw it."""

    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor
    calls: int = 1  # how often the module ran in the pass; inputs and output are the last call's


def _bytes(t: torch.Tensor, item: int) -> int:
    return t.numel() * item


def saved_for_backward(calls: Sequence[Recorded], item: int) -> int:
    """Bytes autograd keeps for a training step's backward: each distinct tensor saved once.

    The cost table says what each operator keeps: convolution, linear and normalisation their
    input, ReLU its output, max-pool its input and int64 indices; additions, padding and
    global pooling keep no activations.
    """
    saved: dict[int, int] = {}
    for c in calls:
        saves = c.operator.saves if c.operator is not None else Saves.NOTHING
        if saves in (Saves.INPUT, Saves.INPUT_AND_INDICES) and c.input_ids:
            saved[c.input_ids[0]] = c.call.input_numel * item
        if saves is Saves.OUTPUT:
            saved[c.output_id] = c.call.output_numel * item
        if saves is Saves.INPUT_AND_INDICES:
            saved[-c.output_id] = c.call.output_numel * 8  # int64 indices
    return sum(saved.values())


def peak_activations(model: nn.Module, seen: dict[str, Seen], item: int) -> int:
    """Inference peak: the largest set of tensors alive at once, layer by layer.

    At each leaf its input and output are alive (one tensor for an in-place ReLU). Inside a
    block the block's input stays alive for the shortcut; while the shortcut runs, the residual
    branch's result waits for the addition. Parameters are not included.
    """
    peak = 0
    blocks = {name: m for name, m in model.named_modules() if isinstance(m, ResidualBlock)}
    for name, m in model.named_modules():
        if not name or any(True for _ in m.children()) or name not in seen:
            continue
        s = seen[name]
        live = {id(t): _bytes(t, item) for t in s.inputs}
        if isinstance(s.output, torch.Tensor):
            live[id(s.output)] = _bytes(s.output, item)
        block = _enclosing_block(blocks, name)
        if block is not None and block in seen:
            live[id(seen[block].inputs[0])] = _bytes(seen[block].inputs[0], item)
            shortcut = f"{block}.{blocks[block].shortcut_name}"
            if name == shortcut or name.startswith(shortcut + "."):
                live[-1] = _bytes(seen[block].output, item)  # the residual branch's result
        peak = max(peak, sum(live.values()))
    return peak


def _enclosing_block(blocks: dict[str, ResidualBlock], name: str) -> str | None:
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in blocks:
            return prefix
    return None
