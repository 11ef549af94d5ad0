"""Parsing and validation of ResNetSpec: pure Python, no torch."""

from __future__ import annotations

import pytest

from resnet_inspect.spec import (
    PRESETS,
    Block,
    ResNetSpec,
    Shortcut,
    SpecError,
    parse_input_shape,
    parse_spec_string,
    resolve,
    spec_string,
)


def test_default_is_resnet50() -> None:
    assert resolve() == PRESETS["resnet50"]
    assert resolve(None) == ResNetSpec()


def test_spec_string_overrides_preset() -> None:
    spec = resolve("resnet50:groups=32,width_per_group=4")
    assert spec == PRESETS["resnext50_32x4d"]
    assert spec_string(spec) == "resnext50_32x4d"


def test_list_values_continue_until_next_key() -> None:
    preset, overrides = parse_spec_string("resnet18:layers=1,1,1,block=basic")
    assert preset == "resnet18"
    assert overrides == {"layers": "1,1,1", "block": "basic"}


def test_flags_alone_define_the_model() -> None:
    spec = resolve(None, block="basic", layers="2,2,2,2")
    assert spec == PRESETS["resnet18"]


def test_changing_stage_count_rederives_widths_and_dilation() -> None:
    spec = resolve("resnet50", layers="2,2,2")
    assert spec.widths == (64, 128, 256)
    assert spec.replace_stride_with_dilation == (False, False)
    cifar = resolve("resnet20", layers="1,1,1,1")
    assert cifar.widths == (16, 32, 64, 128)


def test_dash_and_underscore_keys_are_the_same() -> None:
    assert resolve("resnet50:width-per-group=128") == PRESETS["wide_resnet50_2"]


def test_spec_string_of_a_derived_variant_round_trips() -> None:
    spec = resolve("resnet50", stride_in="1x1", replace_stride_with_dilation="0,1,1")
    text = spec_string(spec)
    assert text.startswith("resnet50:")
    assert resolve(text) == spec


def test_presets_match_the_issue_table() -> None:
    cifar = PRESETS["resnet56"]
    assert cifar.layers == (9, 9, 9) and cifar.widths == (16, 32, 64)
    assert cifar.shortcut is Shortcut.A and cifar.num_classes == 10
    d = PRESETS["resnet50d"]
    assert d.stem.value == "deep" and d.stem_width == 32 and d.avg_down
    assert PRESETS["resnet18"].block is Block.BASIC


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("resnet5", "did you mean resnet50?"),
        ("resnet50:grups=3", "did you mean groups?"),
        ("resnet18:groups=32", "basic block"),
        ("resnet50:widths=64,128", "widths"),
        ("resnet50:layers=3,0,3", "layers: must be at least 1"),
        ("resnet50:layers=-1", "layers"),
        ("resnet50:shortcut=D", "not one of A, B, C"),
        ("resnet50:stem=fancy", "not one of classic, deep, tiered, cifar"),
        ("resnet50:norm=layer", "not one of batch, group, none"),
        ("resnet50:replace_stride_with_dilation=1,1", "replace_stride_with_dilation"),
        ("resnet50:avg_down=maybe", "expected true or false"),
        ("resnet50:groups=x", "expected a whole number"),
        ("resnet50:foo", "expected key=value"),
        ("resnet50:groups=1,groups=2", "given twice"),
        ("resnet20:norm=group", "32 groups"),
        ("resnet18d:shortcut=A", "avg_down"),
        ("resnet18:stride_in=1x1", "bottleneck blocks only"),
        ("resnet50:width_per_group=1,widths=32,64,128,256", "no channels"),
        ("resnet50:widths=512,256,128,64,shortcut=A", "zero-padding cannot remove channels"),
        ("", "empty architecture"),
    ],
)
def test_impossible_specs_raise_spec_error_naming_the_key(text: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=None) as info:
        resolve(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["1x3x224", "1x3x-5x5", "axb", "1x3x0x5", "1x3x224x224x1", ""])
def test_malformed_input_shapes(text: str) -> None:
    with pytest.raises(SpecError, match="--input"):
        parse_input_shape(text)


def test_input_shape_parses() -> None:
    assert parse_input_shape("8x3x32x32") == (8, 3, 32, 32)


def test_spec_is_frozen_and_json_ready() -> None:
    spec = PRESETS["resnet34"]
    with pytest.raises(AttributeError):
        spec.groups = 2  # type: ignore[misc]
    d = spec.to_dict()
    assert d["block"] == "basic" and d["layers"] == [3, 4, 6, 3]
    assert ResNetSpec(**d) == spec


# --- channel rounding: one make_divisible (timm's rule), every width through it -------------
def test_make_divisible_rounds_to_the_nearest_multiple_and_bumps_a_big_loss() -> None:
    from resnet_inspect.spec import make_divisible

    assert make_divisible(64 / 16) == 8  # 4 -> at least the divisor
    assert make_divisible(100) == 104  # 100 + 4 = 104: halves round up
    assert make_divisible(99) == 96  # 103 // 8 * 8
    assert make_divisible(36, 32) == 64  # (36 + 16) // 32 * 32 = 32 < 0.9 * 36 = 32.4: one more
    assert make_divisible(36, 32, round_limit=0.0) == 32  # timm's SE gate never bumps
    assert make_divisible(10, 8, minimum=32) == 32


def test_every_spec_field_has_a_parser() -> None:
    from resnet_inspect.spec import FIELD_NAMES
    from resnet_inspect.spec.fields import parsed_names

    assert sorted(parsed_names()) == sorted(FIELD_NAMES)


def test_presets_are_built_when_first_asked_for() -> None:
    """A cold command on one preset builds that preset (and the ones before it in the table,
    to name it), not all of them: ~20 ms of every cold start. Catches PRESETS turned back
    into a dict built at import, and spec_string building every preset for a preset."""
    import subprocess
    import sys

    code = ("from resnet_inspect.spec import PRESETS, spec_string, resolve\n"
            "s = resolve('resnet18')\n"
            "assert spec_string(s) == 'resnet18'\n"
            "print(len(PRESETS._built), len(PRESETS))")  # fmt: skip
    built, total = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True,
                                           text=True, check=True).stdout.split())  # fmt: skip
    assert built <= 3 < 100 < total


@pytest.mark.parametrize(
    ("text", "shortest"),
    [
        ("resnet50:stride_in=1x1,conv_bias=true,bn_eps=1.001e-5", "resnet50_keras"),
        ("resnet50_keras:bn_eps=0.001", "resnet50_keras:bn_eps=0.001"),
        ("resnet50_clip:img_size=64", "resnet50_clip:img_size=64"),
        ("resnet50_clip:head=avg,num_classes=1000", "resnet50_clip_gap"),
        ("resnet50:head=attn,num_classes=512", "resnet50:head=attn,num_classes=512"),
    ],
)
def test_spec_strings_of_the_foreign_fields_round_trip(text: str, shortest: str) -> None:
    """conv_bias, bn_eps (a float written back as Python writes it), head and img_size: the
    shortest string names the preset where one matches, and reads back to the same spec.
    Catches a float that loses digits on the way back (1.001e-5 as 1e-05)."""
    spec = resolve(text)
    assert spec_string(spec) == shortest
    assert resolve(spec_string(spec)) == spec
