"""ResNetSpec: one frozen description of a ResNet variant, its presets, parsing and validation.

Pure Python: nothing here imports torch, so ``--help`` and argument errors stay instant. The
package is a one-way chain, each module reading only those before it: ``options`` (the enums
and block types) -> ``channels`` (channel rounding) -> ``fields`` (each field's parser and
limits) -> ``rules`` (what a spec must keep) -> ``resnet_spec`` (ResNetSpec, the presets, spec
strings) -> ``parse`` (spec strings and input shapes from text). This module only re-exports.
"""

from __future__ import annotations

from ..errors import SpecError
from ..presets import PRESET_FAMILIES
from .channels import make_divisible
from .fields import DEFAULT_ARCH, MAX_BLOCKS, MAX_INT, default_widths, format_value, normalize_key
from .options import (
    BLOCK_FIELDS,
    BLOCK_TYPES,
    GROUP_NORM_GROUPS,
    HEAD_DIM,
    MAX_SCALE,
    SK_FIELDS,
    SK_PATHS,
    AntiAlias,
    Attn,
    Block,
    BlockType,
    Conv,
    Head,
    Layout,
    Norm,
    SERounding,
    Shortcut,
    Stem,
    StemPool,
    StrideIn,
)  # fmt: skip
from .parse import parse_dims, parse_input_shape, parse_spec_string, presets_of_family, resolve
from .resnet_spec import (
    FIELD_NAMES,
    FIELDS,
    PRESETS,
    ResNetSpec,
    check_preset,
    differing_fields,
    parse_field,
    preset_name,
    preset_words,
    spec_string,
    with_overrides,
)  # fmt: skip
from .rules import normalized_channels, validate

__all__ = [
    "BLOCK_FIELDS",
    "BLOCK_TYPES",
    "DEFAULT_ARCH",
    "FIELDS",
    "FIELD_NAMES",
    "GROUP_NORM_GROUPS",
    "HEAD_DIM",
    "MAX_BLOCKS",
    "MAX_INT",
    "MAX_SCALE",
    "PRESETS",
    "PRESET_FAMILIES",
    "SK_FIELDS",
    "SK_PATHS",
    "AntiAlias",
    "Attn",
    "Block",
    "BlockType",
    "Conv",
    "Head",
    "Layout",
    "Norm",
    "ResNetSpec",
    "SERounding",
    "Shortcut",
    "SpecError",
    "Stem",
    "StemPool",
    "StrideIn",
    "check_preset",
    "default_widths",
    "differing_fields",
    "format_value",
    "make_divisible",
    "normalize_key",
    "normalized_channels",
    "parse_dims",
    "parse_field",
    "parse_input_shape",
    "parse_spec_string",
    "preset_name",
    "preset_words",
    "presets_of_family",
    "resolve",
    "spec_string",
    "validate",
    "with_overrides",
]
