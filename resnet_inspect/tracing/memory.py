"""Activation memory: the inference peak and what a training step keeps for backward.

Both are estimates this project defines (no outside tool reports them); the rules are stated
here and tested by hand in tests/test_memory_by_hand.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .costs import Call, Saves
from .graph import CallGraph


@dataclass
class Seen:
    """A module's call as the hooks saw it."""

    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor
    calls: int = 1  # how often the module ran in the pass; inputs and output are the last call's


def _bytes(t: torch.Tensor, item: int) -> int:
    return t.numel() * item


def saved_for_backward(graph: CallGraph, item: int) -> int:
    """Bytes autograd keeps for a training step's backward: each distinct tensor saved once.

    The cost table says what each operator keeps: convolution, linear and normalisation their
    input, ReLU its output, max-pool its input and int64 indices, a matrix product both operands; additions, padding and
    global pooling keep no activations.
    """
    saved: dict[int, int] = {}
    for c in graph.calls:
        saves = c.operator.saves if c.operator is not None else Saves.NOTHING
        if saves in (Saves.INPUT, Saves.INPUT_AND_INDICES) and c.input_ids and not _by_a_number(c.call):
            saved[c.input_ids[0]] = c.call.input_numel * item
        if saves is Saves.INPUTS:
            for tensor, shape in zip(c.input_ids, c.call.input_shapes, strict=False):
                saved[tensor] = math.prod(shape) * item
        if saves is Saves.OUTPUT:
            saved[c.output_id] = c.call.output_numel * item
        if saves is Saves.INPUT_AND_INDICES:
            saved[-c.output_id] = c.call.output_numel * 8  # int64 indices
    return sum(saved.values())


def _by_a_number(call: Call) -> bool:
    """A product or quotient by a Python number (attention's 1/sqrt(d)): autograd keeps no
    tensor for it, only the number."""
    return call.operator in ("mul", "div") and len(call.input_shapes) == 1


# Operators whose output shares its input's memory: a reshape, a slice, the branches of a split.
VIEWS = frozenset({"reshape", "slice", "split"})


def peak_activations(graph: CallGraph, output_ids: Sequence[int], item: int) -> int:
    """Inference peak: the most activation bytes alive at once, call by call over the pass.

    An activation is a tensor computed from the input (parameters, buffers and constants are
    not). It is alive from the call that makes it until the last call that reads it, or until
    the module it was passed to returns, whichever is later (``holds``: a forward keeps its
    arguments referenced to the end, as a block keeps its input for the shortcut); the
    network's input and outputs (every tensor the forward returns) throughout (the caller
    holds them). A view (reshape, slice, split) is its input's memory, and an
    in-place call's output is its input: neither adds a tensor. So inside a block its input
    stays alive throughout, and the residual branch's result waits for the addition, whatever
    the block's shape: the branches of a split and a stack of paths are held as long as they
    are read. At each call its inputs and outputs are alive together, and a max-pool's int64
    indices while it runs.
    """
    calls, numel, input_id = graph.calls, graph.numel, graph.input_id
    root: dict[int, int] = {}
    born: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, c in enumerate(calls):
        ins = [root.get(t, t) for t in c.input_ids if t in numel]
        for t in ins:
            born.setdefault(t, -1)  # the network's input, alive from the start
            last[t] = i
        view = c.operator is not None and c.operator.name in VIEWS and bool(ins)
        for out in c.output_ids or (c.output_id,):
            if out not in numel or root.get(out, out) in ins:
                continue  # not an activation, or the input itself (in place)
            if view:
                root[out] = ins[0]
                continue
            born.setdefault(out, i)
            last[out] = max(last.get(out, i), i)
    for ids, until in graph.holds:
        for t in {root.get(t, t) for t in ids}:
            if t in born:
                last[t] = max(last[t], until)
    born.setdefault(input_id, -1)
    for end in (input_id, *(root.get(t, t) for t in output_ids)):
        if end in born:
            last[end] = len(calls)
    change = [0] * (len(calls) + 3)
    for t, start in born.items():
        change[start + 1] += numel[t]
        change[last[t] + 2] -= numel[t]
    # a max-pool also writes int64 indices (8 bytes each, whatever the dtype), even in
    # inference, and frees them as it returns
    transient = [0] * (len(calls) + 3)
    for i, c in enumerate(calls):
        if c.operator is not None and c.operator.saves is Saves.INPUT_AND_INDICES:
            transient[i + 1] = c.call.output_numel * 8
    peak = alive = 0
    for delta, extra in zip(change, transient, strict=True):
        alive += delta
        peak = max(peak, alive * item + extra)
    return peak
