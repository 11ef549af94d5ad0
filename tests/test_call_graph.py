"""The tracer's frozen call graph: which tensor each call read and wrote, as the structure
reader, the memory estimates and the receptive field read it (tracing/graph.py).

Expected values by hand from a three-call residual block: conv 3x3 (stride 1, padding 1),
ReLU, and the sum with the block's input.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from resnet_inspect.tracing.graph import CallGraph
from resnet_inspect.tracing.tracer import record_pass


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)) + x


def _graph() -> CallGraph:
    return record_pass(_Residual().to("meta"), (1, 4, 8, 8))


def test_each_call_names_the_tensors_it_read_and_wrote() -> None:
    # a graph that lost the data flow (wrong ids, the first input only, the input's id taken
    # from the wrong place) would find no residual block in any network
    graph = _graph()
    conv, relu, add = graph.calls
    assert conv.input_ids[0] == graph.input_id  # then the weight and the bias
    assert relu.input_ids == (conv.output_id,)
    assert set(add.input_ids) == {relu.output_id, graph.input_id}
    assert add.call.output_shape == (1, 4, 8, 8)


def test_it_carries_each_activations_size_and_field() -> None:
    graph = _graph()
    add = graph.calls[-1]
    assert graph.numel[add.output_id] == 1 * 4 * 8 * 8
    assert graph.fields[graph.input_id] == (1, 1)  # one pixel, jump one
    assert graph.fields[add.output_id] == (3, 1)  # the 3x3 branch is the wider: 3 pixels, jump 1


def test_nothing_after_the_pass_can_change_it() -> None:
    # the readers share one graph: a reader that appended a call or rewrote a field would
    # change what the others compute
    graph = _graph()
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.calls = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        graph.fields[graph.input_id] = (5, 5)  # type: ignore[index]
    assert isinstance(graph.calls, tuple) and isinstance(graph.holds, tuple)
