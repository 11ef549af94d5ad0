"""Closed-form shape rules for the operators of the cost table, applied to meta tensors.

PyTorch's meta kernels for most operators are Python functions whose first call imports
torch._dynamo and sympy: about a second before the first shape comes out. A trace only needs
shapes, so on the meta device each operator of ``costs.OPERATORS`` that names a rule here
returns an empty meta tensor of the right shape from the textbook formula instead; any other
operator runs its normal meta kernel. The tests check every shape against real forward passes
on CPU. torch is imported on first use, so the cost table stays importable without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def _window(size: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # the last window may not start in the right padding
    if out < 1:
        raise RuntimeError(f"output size is too small: {size} px in, kernel {k}, stride {s}")
    return out


def _empty(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    return x.new_empty(tuple(shape))


def _spatial(x: torch.Tensor, channels: int, k: Any, s: Any, p: Any, d: Any, ceil: bool = False) -> torch.Tensor:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _pair(k), _pair(s), _pair(p), _pair(d)
    h, w = x.shape[-2:]
    return _empty(x, (*x.shape[:-3], channels, _window(h, kh, sh, ph, dh, ceil), _window(w, kw, sw, pw, dw, ceil)))


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Any = None, stride: Any = 1, padding: Any = 0,
            dilation: Any = 1, groups: int = 1) -> torch.Tensor:  # fmt: skip
    if x.shape[-3] != weight.shape[1] * groups:
        raise RuntimeError(f"expected {weight.shape[1] * groups} input channels, got {x.shape[-3]}")
    return _spatial(x, weight.shape[0], weight.shape[-1], stride, padding, dilation)


def max_pool2d(x: torch.Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:  # fmt: skip
    out = _spatial(x, x.shape[-3], kernel_size, stride or kernel_size, padding, dilation, ceil_mode)
    return (out, _empty(out, out.shape).long()) if return_indices else out


def avg_pool2d(x: torch.Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                ceil_mode: bool = False, *_: Any, **__: Any) -> torch.Tensor:  # fmt: skip
    return _spatial(x, x.shape[-3], kernel_size, stride or kernel_size, padding, 1, ceil_mode)


def adaptive_avg_pool2d(x: torch.Tensor, output_size: Any) -> torch.Tensor:
    return _empty(x, (*x.shape[:-2], *_pair(output_size)))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> torch.Tensor:
    if x.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear expects {weight.shape[1]} features, got {x.shape[-1]}")
    return _empty(x, (*x.shape[:-1], weight.shape[0]))


def same(x: torch.Tensor, *_: Any, **__: Any) -> torch.Tensor:
    return _empty(x, x.shape)


def group_norm(x: torch.Tensor, num_groups: int, *_: Any, **__: Any) -> torch.Tensor:
    # torch refuses a group holding a single value (batch 1, one channel per group, 1x1)
    if x.shape[0] * (x.shape[1] // num_groups) * math.prod(x.shape[2:]) == 1:
        raise RuntimeError(f"group_norm: one value per group, got input size {list(x.shape)}")
    return _empty(x, x.shape)


def relu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """An in-place ReLU returns its input, as torch does: one tensor, not two."""
    return x if inplace else _empty(x, x.shape)


def in_place(x: torch.Tensor, *_: Any, **__: Any) -> torch.Tensor:
    return x


def _broadcast(a: Sequence[int], b: Sequence[int]) -> list[int]:
    # torch.broadcast_shapes would import sympy on first use
    a, b = [1] * (len(b) - len(a)) + list(a), [1] * (len(a) - len(b)) + list(b)
    if any(i != j and 1 not in (i, j) for i, j in zip(a, b, strict=True)):
        raise RuntimeError(f"shapes {a} and {b} do not broadcast")
    return [max(i, j) if 1 in (i, j) else i for i, j in zip(a, b, strict=True)]


def add(x: torch.Tensor, other: Any, *_: Any, **__: Any) -> torch.Tensor:
    shape = _broadcast(x.shape, other.shape) if hasattr(other, 'shape') else x.shape
    return _empty(x, shape)


def flatten(x: torch.Tensor, start_dim: int = 0, end_dim: int = -1) -> torch.Tensor:
    dims = list(x.shape)
    start, end = start_dim % len(dims), end_dim % len(dims)
    return _empty(x, [*dims[:start], math.prod(dims[start:end + 1]), *dims[end + 1:]])


def getitem(x: torch.Tensor, index: Any) -> torch.Tensor:
    index = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, slice) for i in index):
        raise NotImplementedError  # only slicing has a rule here
    dims = [len(range(*s.indices(n))) for s, n in zip(index, x.shape, strict=False)]
    return _empty(x, dims + list(x.shape[len(dims) :]))


def pad(x: torch.Tensor, pad: Sequence[int], *_: Any, **__: Any) -> torch.Tensor:
    dims = list(x.shape)
    for i in range(len(pad) // 2):
        dims[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    return _empty(x, dims)



def matmul(x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Batched ... x n x k @ ... x k x m (the batch dimensions broadcast); vectors left to torch."""
    if x.dim() < 2 or other.dim() < 2:
        raise NotImplementedError
    if x.shape[-1] != other.shape[-2]:
        raise RuntimeError(f"matmul: {list(x.shape)} @ {list(other.shape)} do not multiply")
    return _empty(x, (*_broadcast(x.shape[:-2], other.shape[:-2]), x.shape[-2], other.shape[-1]))


def conv1d(x: torch.Tensor, weight: torch.Tensor, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> torch.Tensor:  # fmt: skip
    if x.shape[-2] != weight.shape[1] * groups:
        raise RuntimeError(f"expected {weight.shape[1] * groups} input channels, got {x.shape[-2]}")
    k, s, p, d = (int(v if isinstance(v, int) else v[0]) for v in (weight.shape[-1], stride, padding, dilation))
    return _empty(x, (*x.shape[:-2], weight.shape[0], _window(x.shape[-1], k, s, p, d)))


def mean(x: torch.Tensor, dim: Any = None, keepdim: bool = False, *_: Any, **__: Any) -> torch.Tensor:
    if dim is None:
        raise NotImplementedError  # a mean of everything: left to torch
    dims = {d % x.dim() for d in ((dim,) if isinstance(dim, int) else dim)}
    kept = [1 if i in dims else n for i, n in enumerate(x.shape) if keepdim or i not in dims]
    return _empty(x, kept)


def view(x: torch.Tensor, *shape: Any) -> torch.Tensor:
    """``view(2, 1, -1)`` or ``view((2, 1, -1))``: at most one -1, inferred from the rest."""
    dims = list(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else list(shape)
    if not all(isinstance(d, int) for d in dims) or dims.count(-1) > 1:
        raise NotImplementedError
    known = math.prod(d for d in dims if d != -1)
    if -1 in dims:
        dims[dims.index(-1)] = x.numel() // known if known else 0
    if math.prod(dims) != x.numel():
        raise RuntimeError(f"shape {dims} is invalid for input of size {x.numel()}")
    return _empty(x, dims)
