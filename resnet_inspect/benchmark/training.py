"""A training step, as ``--mode train`` times it: forward, cross-entropy loss, backward and the
optimizer's step, in train mode (batch norm updates its running statistics).

The optimizer is SGD with momentum 0.9 (the ResNet paper's), or AdamW with torch's defaults.
Under ``amp`` with fp16 a gradient scaler scales the loss (fp16 gradients underflow without
one); bf16 has float32's range and needs none. The gradients are set to None after each step,
as ``optimizer.zero_grad()`` does by default, so a step allocates them anew.

The memory of a step is split into what can be measured on every device: the weights (and
buffers), the gradients, the optimizer's state (tensor sizes), and the activations autograd
keeps for backward, measured with saved-tensor hooks on the eager model (each storage once,
parameters excluded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .config import BenchConfig, BenchTask, Optimizer, Precision
from .environment import autocast

SGD_MOMENTUM = 0.9  # He et al. 2015, "Deep Residual Learning", section 3.4
LEARNING_RATE = 1e-3  # small: the weights change, the timing does not depend on it


@dataclass
class TrainParts:
    """The pieces of one configuration's training step (mutable, private to the engine)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: Any  # torch.amp.GradScaler or None
    x: torch.Tensor
    target: torch.Tensor


def make_optimizer(model: nn.Module, config: BenchConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer is Optimizer.ADAMW:
        return torch.optim.AdamW(params, lr=LEARNING_RATE)
    return torch.optim.SGD(params, lr=LEARNING_RATE, momentum=SGD_MOMENTUM)


def make_scaler(config: BenchConfig) -> Any:
    """A gradient scaler where fp16 autocast needs one; None otherwise."""
    if not (config.amp and config.precision is Precision.FP16):
        return None
    return torch.amp.GradScaler(config.device.split(":")[0])


def make_target(task: BenchTask, num_classes: int, device: str) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, num_classes, (task.batch,), generator=generator)
    return labels.to(device)


def train_step(parts: TrainParts, fn: Callable[[torch.Tensor], torch.Tensor], config: BenchConfig,
               ) -> Callable[[], Any]:  # fmt: skip
    """One step of ``fn`` (the model, compiled or not) on the configuration's batch."""
    context = autocast(config)
    optimizer, scaler, x, target = parts.optimizer, parts.scaler, parts.x, parts.target

    def step() -> Any:
        with context:
            loss = nn.functional.cross_entropy(fn(x), target)
        if scaler is None:
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step


def tensor_bytes(tensors: Any) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def weight_bytes(model: nn.Module) -> int:
    return tensor_bytes([*model.parameters(), *model.buffers()])


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Every tensor the optimizer keeps per parameter (momentum, Adam's two moments, steps)."""
    return sum(tensor_bytes(state.values()) for state in optimizer.state.values())


def gradient_bytes(parts: TrainParts, config: BenchConfig) -> int:
    """The gradients one backward pass makes (measured: the ``.grad`` tensors, then freed)."""
    model = parts.model
    with autocast(config):
        loss = nn.functional.cross_entropy(model(parts.x), parts.target)
    loss.backward()  # type: ignore[no-untyped-call]
    grads = tensor_bytes(p.grad for p in model.parameters())
    model.zero_grad(set_to_none=True)
    return grads


def saved_activation_bytes(model: nn.Module, x: torch.Tensor, config: BenchConfig) -> int:
    """Bytes autograd keeps for backward in one forward pass of the eager model: each storage
    once, the parameters (and their casts kept as weights) not counted."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params and storage.nbytes():
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(config):
        out = model(x)
    del out
    return sum(saved.values())
