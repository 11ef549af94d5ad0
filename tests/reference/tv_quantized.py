"""Record the state-dict layout of torchvision's quantized ResNets, by hand.

Run from the repository root in the reference environment (torchvision 0.28, torch 2.13 CPU):

    /work/venv-ref/bin/python tests/reference/tv_quantized.py

Builds ``torchvision.models.quantization.resnet18`` and ``resnet50`` with random weights
(``quantize=False``), then quantizes them as torchvision's own ``quantize=True`` path does
(``torchvision/models/quantization/utils.py``, ``quantize_model``: eval, ``fuse_model``, the
backend's default qconfig, prepare, one calibration pass, convert), and writes every key of the
state dict with what it holds (dtype, shape and quantization scheme; the packed classifier's
two tensors; a dtype)
to data/tv_quantized.json. tests/test_layouts_pkl.py checks its hand-built quantized state dicts
against these keys. Nothing of resnet_inspect is used here.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
import torchvision
from torchvision.models import quantization

OUT = Path(__file__).parent / "data" / "tv_quantized.json"


def _describe(value: Any) -> str:
    """``"qint8 64x3x7x7 per_channel_affine"``, ``"float32 64"``, ``"float32 scalar"``,
    ``"tuple(qint8 1000x512 per_tensor_affine, float32 1000)"``, ``"dtype qint8"``."""
    if isinstance(value, torch.Tensor):
        shape = "x".join(map(str, value.shape)) or "scalar"
        scheme = f" {str(value.qscheme()).removeprefix('torch.')}" if value.is_quantized else ""
        return f"{str(value.dtype).removeprefix('torch.')} {shape}{scheme}"
    if isinstance(value, tuple):
        return f"tuple({', '.join(_describe(v) for v in value)})"
    if isinstance(value, torch.dtype):
        return f"dtype {str(value).removeprefix('torch.')}"
    raise TypeError(type(value))


def quantized_state_dict(name: str) -> dict[str, Any]:
    torch.manual_seed(0)
    model = getattr(quantization, name)(weights=None, quantize=False).eval()
    model.fuse_model()
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    torch.ao.quantization.prepare(model, inplace=True)
    model(torch.randn(2, 3, 64, 64))
    torch.ao.quantization.convert(model, inplace=True)
    return model.state_dict()


def main() -> None:
    warnings.simplefilter("ignore")
    models = {name: {k: _describe(v) for k, v in quantized_state_dict(name).items()}
              for name in ("resnet18", "resnet50")}  # fmt: skip
    data = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "backend": "fbgemm", "models": models}  # fmt: skip
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({', '.join(f'{n}: {len(m)} keys' for n, m in models.items())})")


if __name__ == "__main__":
    main()
