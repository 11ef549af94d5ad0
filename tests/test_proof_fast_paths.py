"""The proof's fast paths: the user's model made on the CPU from its meta copy
(``transfer.empty_copy``), the reference holding the user's tensors themselves
(``transfer(share=True)``) and the reference's calls read on the meta device by the trace's
shape rules (``align.calls_of``). Each is only faster, so every answer must be the one the
CPU build, copies and a CPU pass give. Each model below carries what would make a fast path
go wrong: a tensor the draw does not set, a tensor two modules share, a meta tensor outside
the parameters and buffers, a forward that changes its own weights."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from resnet_inspect.equivalence import proof, prove
from resnet_inspect.equivalence.align import Call, calls_of
from resnet_inspect.equivalence.transfer import empty_copy
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, spec_string

sys.path.insert(0, str(Path(__file__).parent / "user_models"))
from hand18 import Hand18

SHAPE = (1, 3, 32, 32)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class OrderedBN(nn.BatchNorm2d):
    """A BN that also reorders its channels by an integer buffer (the identity): only the
    constructor knows its values, the proof's draw does not set it."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.register_buffer("order", torch.arange(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[:, self.order]


class Ordered(Hand18):
    def __init__(self) -> None:
        super().__init__()
        self.bn1 = OrderedBN(64)


class ScaledBN(nn.BatchNorm2d):
    """A BN times a constant 1 kept in a non-persistent buffer: not in the state_dict, so a
    checkpoint does not set it."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.register_buffer("scale", torch.ones(()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.scale


class Scaled(Hand18):
    def __init__(self) -> None:
        super().__init__()
        self.bn1 = ScaledBN(64)


class Tied(Hand18):
    """layer1.0's two convs share one weight (and a ReLU before the sum, so that the outputs
    differ and the difference depends on the values drawn)."""

    def __init__(self) -> None:
        super().__init__({"layer1.1": "relu before sum"})
        self.layer1[0].conv2.weight = self.layer1[0].conv1.weight


class Shifted(Hand18):
    """A shift of 0 kept as a plain tensor attribute: built on meta, it stays there."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.shift


class Drifting(Hand18):
    """Each forward adds 1 to its head's bias after using it: a reference that held the same
    tensor would drift with it, a copy does not."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        with torch.no_grad():
            self.fc.bias.add_(1.0)
        return out


def _meta(factory: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return factory()


def _both(factory: Callable[[], nn.Module], **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The proof from the meta copy, and from a CPU build (a model on the CPU is never emptied)."""
    fast = prove(_meta(factory), factory, PRESETS["resnet18"], SHAPE, inputs=2, **kw)
    slow = prove(factory(), factory, PRESETS["resnet18"], SHAPE, inputs=2, **kw)
    return fast.to_dict(), slow.to_dict()


def test_a_plain_model_is_emptied_and_its_batch_norm_step_counts_are_zero() -> None:
    made = empty_copy(_meta(Hand18), loaded=False)
    assert made is not None and made.bn1.weight.device.type == "cpu"
    assert all(int(m.num_batches_tracked) == 0 for m in made.modules() if isinstance(m, nn.BatchNorm2d))


def test_an_integer_buffer_keeps_its_constructors_value() -> None:
    assert empty_copy(_meta(Ordered), loaded=False) is None  # the draw sets floating tensors only
    fast, slow = _both(Ordered)
    assert fast["equal"] and fast == slow


def test_a_non_persistent_buffer_keeps_its_value_under_the_users_weights(tmp_path: Path) -> None:
    from resnet_inspect.checkpoint import load_weights_into

    path = tmp_path / "scaled.pth"
    torch.save(Scaled().state_dict(), path)  # without "scale": it is not persistent
    assert empty_copy(_meta(Scaled), loaded=True) is None
    assert empty_copy(_meta(Scaled), loaded=False) is not None  # a floating tensor: drawn

    def build() -> nn.Module:
        model = Scaled()
        load_weights_into(model, path)
        return model

    fast = prove(_meta(Scaled), build, PRESETS["resnet18"], SHAPE, inputs=1, weights=str(path))
    assert fast.equal, fast.to_dict()


def test_a_tensor_two_modules_share_is_not_parted() -> None:
    assert empty_copy(_meta(Tied), loaded=False) is None
    fast, slow = _both(Tied)
    assert not fast["equal"] and fast == slow


def test_a_meta_tensor_outside_the_buffers_sends_the_proof_to_a_cpu_build() -> None:
    fast, slow = _both(Shifted)
    assert fast["compared"] and fast["equal"] and fast == slow


def test_a_forward_that_changes_its_weights_is_compared_with_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _both(Drifting)
    real = proof.transfer
    monkeypatch.setattr(proof, "transfer", lambda *a, **kw: real(*a, **{**kw, "share": False}))
    copies = prove(_meta(Drifting), Drifting, PRESETS["resnet18"], SHAPE, inputs=2).to_dict()
    assert fast == copies and not fast["equal"]  # the bias moves between the passes


@pytest.mark.parametrize("name", ["resnet18", "resnet50d", "seresnext26d_32x4d", "resnetv2_18", "skresnet18",
                                  "resnest14d", "resnetblur18", "res2net50_14w_8s", "ecaresnet26t"])  # fmt: skip
def test_the_reference_calls_read_on_meta_are_those_of_a_cpu_pass(name: str) -> None:
    """Kinds, tensor shapes and the order (read from the data flow) of every parametrised
    call; all 144 presets agreed at their size up to 64x64 when this was written (the CLIP
    ones' attention pool needs its own size on both)."""
    spec = PRESETS[name]
    meta = calls_of(build_model(spec, "meta"), SHAPE)
    cpu = calls_of(build_model(spec, "meta").to_empty(device="cpu"), SHAPE)
    assert meta == cpu and len(meta) > 20


def test_a_meta_pass_that_does_not_align_never_makes_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    real = proof.calls_of

    def wrong_on_meta(model: nn.Module, shape: tuple[int, ...]) -> tuple[Call, ...]:
        calls = real(model, shape)
        return calls[::-1] if next(model.parameters()).is_meta else calls

    monkeypatch.setattr(proof, "calls_of", wrong_on_meta)
    fast, slow = _both(Hand18)
    assert fast["equal"] and fast == slow


class Counted(Hand18):
    """Counts its forwards on meta inputs (this instance's: the proof's copy counts its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.meta_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.meta_calls += x.is_meta
        return super().forward(x)


def test_identify_runs_the_model_once_on_meta_and_builds_the_preset_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The structure and the words reader read one meta pass of the user's model, and the
    structure, the words reader and the proof one build of the preset (each had its own)."""
    import resnet_inspect
    import resnet_inspect.model as models

    built: list[str] = []
    real = models.build_model

    def counted(spec: Any, device: Any = None) -> nn.Module:
        built.append(spec_string(spec))
        return real(spec, device)

    monkeypatch.setattr(models, "build_model", counted)
    mine = _meta(Counted)
    found = resnet_inspect.identify(mine, input_size=SHAPE).data
    assert found.exact, found.verdict
    assert mine.meta_calls == 1
    assert built == ["resnet18"]


def test_the_proof_takes_a_reference_built_already_only_from_its_spec() -> None:
    expected = prove(_meta(Hand18), Hand18, PRESETS["resnet18"], SHAPE, inputs=1).to_dict()
    other = build_model(PRESETS["resnet34"], "meta")  # another variant: built again, left alone
    assert prove(_meta(Hand18), Hand18, PRESETS["resnet18"], SHAPE, inputs=1, reference_model=other).to_dict() == expected
    assert next(other.parameters()).is_meta
    same = build_model(PRESETS["resnet18"], "meta")  # taken: it holds tensors now
    assert prove(_meta(Hand18), Hand18, PRESETS["resnet18"], SHAPE, inputs=1, reference_model=same).to_dict() == expected
    assert not next(same.parameters()).is_meta and expected["equal"]
