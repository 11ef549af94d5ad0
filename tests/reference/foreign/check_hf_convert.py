"""By hand, not in the test suite: ``convert --to hf`` loads in transformers itself.

For resnet18 and resnet50 (our presets, seeded random weights and randomised BN statistics,
saved in torchvision's layout), run ``convert FILE --to hf -o DIR/model.safetensors``, then
``ResNetForImageClassification.from_pretrained(DIR)`` with the loading info: no missing, no
unexpected and no mismatched keys, and its logits equal ours on one seeded input (relative
L2 < 1e-5, eval mode); and a transformers model that strides its first 1x1, hf -> hf. Run in the foreign reference environment, from the repository root:

    PYTHONPATH=$PWD /work/venv-foreign/bin/python tests/reference/foreign/check_hf_convert.py

It prints one line per variant and exits 1 on any failure.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import ResNetForImageClassification

from resnet_inspect.conversion import Target, convert
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

VARIANTS = ("resnet18", "resnet50")


def _randomised(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(resolve(name), "cpu").eval()
    with torch.no_grad():  # statistics and scales away from the defaults, so that they show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model


def check(name: str, folder: Path) -> bool:
    ours = _randomised(name)
    source = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in ours.state_dict().items()}, str(source))
    out = folder / name / "model.safetensors"
    out.parent.mkdir()
    done = convert(source, Target.HF, out)
    theirs, info = ResNetForImageClassification.from_pretrained(str(out.parent), output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = theirs.eval()(pixel_values=x).logits.double(), ours(x).double()
    rel = float((a - b).norm() / b.norm())
    ok = done.proof.proved and not problems and rel < 1e-5
    print(f"{name}: {'ok' if ok else 'FAILED'}: loading info {problems or 'clean'}, relative L2 {rel:.2g}, "
          f"config {done.config}")
    return ok


def check_stride_in_1x1(folder: Path) -> bool:
    """A transformers model that strides its first 1x1 (downsample_in_bottleneck=true, which
    the weights cannot show): saved by transformers, converted hf -> hf (the config beside
    the source read, the one beside OUT written), loaded again: the same logits."""
    from transformers import ResNetConfig

    torch.manual_seed(0)
    config = ResNetConfig(depths=[1, 1, 1, 1], downsample_in_bottleneck=True, num_labels=10)
    source = ResNetForImageClassification(config).eval()
    source.save_pretrained(str(folder / "source"))
    out = folder / "again" / "model.safetensors"
    out.parent.mkdir()
    done = convert(folder / "source" / "model.safetensors", Target.HF, out)
    again, info = ResNetForImageClassification.from_pretrained(str(out.parent), output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = again.eval()(pixel_values=x).logits.double(), source(pixel_values=x).logits.double()
    rel = float((a - b).norm() / b.norm())
    ok = done.proof.proved and not problems and rel < 1e-5 and again.config.downsample_in_bottleneck is True
    print(f"hf stride_in=1x1 -> hf: {'ok' if ok else 'FAILED'}: identified {done.spec.stride_in.value}, loading "
          f"info {problems or 'clean'}, relative L2 {rel:.2g}")
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        results = [check(name, Path(tmp)) for name in VARIANTS]
        results.append(check_stride_in_1x1(Path(tmp)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
