"""Each block type's facts live in one record (spec.BLOCK_TYPES): what identify reads it by,
how many convs a trace sees, and (on the block module) what zero_init_residual zeroes. These
tests hold the record to the modules that build the blocks, so a new block type, or a renamed
child, cannot leave identify or the structure reader reading keys no checkpoint has."""

from __future__ import annotations

import pytest
import torch

from resnet_inspect import build
from resnet_inspect.model import build_model
from resnet_inspect.model.block import ResidualBlock
from resnet_inspect.spec import BLOCK_TYPES, PRESETS, Layout

# identify reads the torchvision and legacy SENet layouts by these names (resnetv2 by its own)
READ_BY_BLOCK_KEYS = [n for n, s in PRESETS.items() if s.layout is not Layout.RESNETV2]


@pytest.mark.parametrize("name", READ_BY_BLOCK_KEYS)
def test_every_preset_has_the_keys_its_block_type_declares(name: str) -> None:
    spec = PRESETS[name]
    keys = BLOCK_TYPES[spec.block].keys
    state = build_model(spec, "meta").state_dict()
    for stage in range(1, spec.num_stages + 1):
        convs = {keys.width_conv, *keys.first_convs, *keys.markers}
        if keys.grouped_conv:
            convs.add(keys.grouped_conv)
        missing = sorted(c for c in convs if f"layer{stage}.0.{c}.weight" not in state)
        assert not missing, f"{name}: layer{stage}.0 has no {missing}"
    # the width conv's outputs are the stage's width x the expansion, as identify divides them
    out = state[f"layer1.0.{keys.width_conv}.weight"].shape[0]
    assert out == spec.out_channels(0)


@pytest.mark.parametrize("block", list(BLOCK_TYPES))
def test_no_other_block_type_carries_all_of_a_block_types_markers_first(block: object) -> None:
    """identify takes the first type in its reading order whose markers layer1.0 has: a
    preset of each type must be read as that type, not as one checked before it."""
    from resnet_inspect.identification.block_reading import _READING_ORDER

    assert set(_READING_ORDER) == set(BLOCK_TYPES)  # a new block type left out is never read
    name = next(n for n in READ_BY_BLOCK_KEYS if PRESETS[n].block is block)
    state = build_model(PRESETS[name], "meta").state_dict()
    first = next(b for b in _READING_ORDER
                 if all(f"layer1.0.{m}.weight" in state for m in BLOCK_TYPES[b].keys.markers))
    assert first is block, name


# one preset per block module (post-activation, pre-activation, SE and SK variants included)
ZERO_INIT = ["resnet18", "resnet50", "seresnet50", "res2net50_26w_4s", "resnest14d", "skresnet18",
             "skresnext50_32x4d", "resnetv2_18", "resnetv2_50", "legacy_seresnet18"]  # fmt: skip


@pytest.mark.parametrize("name", ZERO_INIT)
def test_zero_init_residual_makes_every_block_start_as_its_shortcut(name: str) -> None:
    """With zero_init_residual a block's branch adds nothing: a block without a projection
    returns its input through the activation after the sum (none in a pre-activation block).
    Catches a block type whose zero_init_name names no layer on its branch, or a layer whose
    zeroing does not silence the branch (an SE gate's conv: the gate then halves the branch),
    and zero_init_residual doing nothing in a layout."""
    spec = PRESETS[name].replace(zero_init_residual=True, layers=(2, 1))  # two stages: quick
    torch.manual_seed(0)
    model = build(spec).eval()
    block = next(m for m in model.modules() if isinstance(m, ResidualBlock) and m.downsample is None)
    seen: list[torch.Tensor] = []
    handle = block.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
        handle.remove()
        x = torch.randn_like(seen[0])
        # a post-activation block ReLUs the sum (He et al. 2015); a pre-activation one adds
        # nothing after it (He et al. 2016): derived from the paper, not from block.post
        expected = x if spec.preact else torch.relu(x)
        torch.testing.assert_close(block(x), expected)
    assert torch.count_nonzero(block.get_submodule(block.zero_init_name).weight) == 0
