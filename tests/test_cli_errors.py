"""The bad-input battery: every command, every way a user can get it wrong.

Each invocation must exit 2 (bad input) or 1 (cannot run here), print exactly one line on
stderr starting with ``error:`` that names what was wrong, nothing on stdout, no traceback.
"""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS


class NotAWeight:
    """Pickled by reference: a checkpoint holding it would import this module to load."""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("battery")
    torch.save(build_model(PRESETS["resnet20"], "meta").to_empty(device="cpu").state_dict(), root / "r20.pth")
    (root / "garbage.pth").write_bytes(b"this is not a checkpoint\n" * 10)
    (root / "empty.pth").write_bytes(b"")
    (root / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    torch.save({"state_dict": NotAWeight()}, root / "code.pth")
    torch.save({"encoder.weight": torch.zeros(3, 3)}, root / "other.pth")
    (root / "dir.pth").mkdir()
    return {
        "tmp": str(root),
        "ckpt": str(root / "r20.pth"),
        "garbage": str(root / "garbage.pth"),
        "empty": str(root / "empty.pth"),
        "badst": str(root / "bad.safetensors"),
        "code": str(root / "code.pth"),
        "other": str(root / "other.pth"),
        "dir": str(root / "dir.pth"),
        "missing": str(root / "missing.pth"),
        "long": "x" * 300,  # longer than any file name may be
        "nodir": str(root / "no" / "such" / "dir" / "out.json"),
        # root ignores file modes; a path *under a regular file* fails for everyone
        "underfile": str(root / "r20.pth" / "out.json"),
    }


# (arguments, exit code, a fragment the error line must contain)
BATTERY: list[tuple[str, int, str]] = [
    # summary: presets, flag values, spec strings, conflicts
    ("summary resnet5", 2, "did you mean resnet50"),
    ("summary resnt50", 2, "'resnt50'"),
    ("summary :", 2, "no preset before ':'"),  # not a silent resnet50
    ("summary --stem big", 2, "--stem 'big'"),
    ("summary --shortcut D", 2, "--shortcut 'D'"),
    ("summary --norm layer", 2, "--norm 'layer'"),
    ("summary --block bottlenek", 2, "--block 'bottlenek'"),
    ("summary --stride-in 2x2", 2, "--stride-in '2x2'"),
    ("summary --groups many", 2, "--groups 'many'"),
    ("summary --width-per-group 0", 2, "--width-per-group '0'"),
    ("summary --num-classes -3", 2, "--num-classes"),
    ("summary --in-chans x", 2, "--in-chans 'x'"),
    ("summary --layers 0,1", 2, "--layers"),
    ("summary --layers 3,,4", 2, "--layers"),
    ("summary --widths 64,128", 2, "widths"),
    ("summary --dilation 1", 2, "replace_stride_with_dilation"),
    ("summary --dilation yes,maybe,no", 2, "--dilation"),
    ("summary --block basic --groups 32", 2, "basic block"),
    ("summary --avg-down --shortcut A", 2, "avg_down"),
    ("summary --block basic --stride-in 1x1", 2, "stride_in"),
    ("summary resnet50:norm=group,stem_width=40", 2, "norm=group"),
    ("summary resnet18:shortcut=A,widths=8,8,8,8", 2, "shortcut A"),
    ("summary resnet50:groups", 2, "expected key=value"),
    ("summary resnet50:grops=32", 2, "did you mean groups"),
    ("summary resnet50:groups=32,groups=4", 2, "given twice"),
    ("summary resnet50:layers=", 2, "layers"),
    ("summary resnet50 resnet18", 2, "resnet18"),
    ("summary --grops 32", 2, "--grops"),
    # summary: --input, --depth, --dtype
    ("summary --input 1x3x224", 2, "--input '1x3x224'"),
    ("summary --input 1x3x0x224", 2, "--input"),
    ("summary --input 1x3x224x224x1", 2, "--input"),
    ("summary --input axbxcxd", 2, "--input 'axbxcxd'"),
    ("summary --input 1x4x224x224", 2, "in_chans=3"),
    ("summary resnet50:norm=group,stem_width=32 --input 1x3x1x1", 2, "--input 1x3x1x1"),
    ("summary --input 1x3x99999999999999999999x1", 2, "--input"),
    ("summary --input 1x3x999999999x999999999", 2, "--input"),
    ("summary --num-classes 99999999999999999999", 2, "--num-classes"),
    ("summary --widths 999999999,1,1,1", 2, "too large"),
    ("summary --depth 0", 2, "--depth"),
    ("summary --depth deep", 2, "--depth"),
    ("summary --dtype int3", 2, "--dtype 'int3'"),
    # summary: formats and outputs
    ("summary -f xml", 2, "--format 'xml'"),
    ("summary -o {tmp}/out.json -f csv", 2, "means json"),
    ("summary -o {tmp}/out.yaml", 2, "cannot tell the format"),
    ("summary -o {nodir}", 2, "does not exist"),
    ("summary -o {underfile}", 2, "--output"),
    ("summary -o {tmp} -f json", 2, "is a directory"),
    ("summary -o {tmp}/{long}.json", 2, "--output"),
    ("summary -o /proc/resnet-inspect-test.json", 2, "--output '/proc/"),  # root too
    # summary --weights
    ("summary resnet20 --weights {missing}", 2, "no such file"),
    ("summary resnet20 --weights {dir}", 2, "is a directory"),
    ("summary resnet20 --weights {garbage}", 2, "--weights"),
    ("summary resnet20 --weights {empty}", 2, "empty"),
    ("summary resnet20 --weights {badst}", 2, "safetensors"),
    ("summary resnet20 --weights {code}", 2, "refused"),
    ("summary resnet20 --weights {underfile}", 2, "--weights"),
    ("summary resnet18 --weights {ckpt}", 1, "--weights"),
    # list
    ("list -f yaml", 2, "--format 'yaml'"),
    ("list -o {tmp}/presets.csv -f json", 2, "means csv"),
    ("list -o {nodir}", 2, "does not exist"),
    ("list resnet50", 2, "resnet50"),
    # flops
    ("flops --counter fvcor", 2, "--counter 'fvcor'"),
    ("flops --by block", 2, "--by 'block'"),
    ("flops --depth -1", 2, "--depth"),
    ("flops --input 1x3", 2, "--input '1x3'"),
    ("flops resnet50:stem=big", 2, "stem"),
    ("flops -o {underfile}", 2, "--output"),
    ("flops --counter fvcore --input 64x3x8192x8192", 1, "--counter fvcore"),
    ("flops resnet18 --weights {ckpt}", 1, "--weights"),
    # diff
    ("diff resnet50", 2, "B"),
    ("diff resnet50 resnet5", 2, "resnet5"),
    ("diff resnt50 resnet18", 2, "resnt50"),
    ("diff resnet50 resnet50:layers=", 2, "layers"),
    ("diff resnet50 resnet18 --input 1x3", 2, "--input"),
    ("diff resnet18 resnet50:widths=999999999,1,1,1", 2, "too large"),
    ("diff resnet50 resnet18 --depth 0", 2, "--depth"),
    ("diff resnet50 resnet18 -f pdf", 2, "--format 'pdf'"),
    ("diff resnet50 resnet18 -o {tmp}/d.svg -f html", 2, "means svg"),
    ("diff resnet50 resnet18 --weights-a {garbage}", 2, "--weights-a"),
    ("diff resnet18 resnet20 --weights-b {missing}", 2, "--weights-b"),
    ("diff resnet18 resnet50 --weights-a {ckpt}", 1, "--weights-a"),
    # check
    ("check resnet20 {missing}", 2, "no such file"),
    ("check resnet20 {dir}", 2, "is a directory"),
    ("check resnet20 {garbage}", 2, "garbage.pth"),
    ("check resnet20 {empty}", 2, "empty"),
    ("check resnet20 {code}", 2, "refused"),
    ("check resnet5 {ckpt}", 2, "resnet5"),
    ("check resnet20 {ckpt} --stem big", 2, "--stem 'big'"),
    ("check resnet20 {ckpt} -f toml", 2, "--format 'toml'"),
    ("check resnet20", 2, "FILE"),
    # identify
    ("identify {missing}", 2, "no such file"),
    ("identify {garbage}", 2, "garbage.pth"),
    ("identify {badst}", 2, "safetensors"),
    ("identify {underfile}", 2, "FILE"),
    ("identify {other}", 1, "not a ResNet"),
    ("identify {other}", 1, "other.pth"),  # which file: a script may identify many
    ("identify {ckpt} -f xml", 2, "--format 'xml'"),
    ("identify {ckpt} -o {nodir}", 2, "does not exist"),
    ("identify", 2, "FILE"),
    # bench: devices this machine lacks are "cannot run here" (1); the rest is bad input (2)
    ("bench resnet18 --device cuda:7", 1, "--device cuda:7"),
    ("bench resnet18 --device tpu", 2, "--device 'tpu'"),
    ("bench resnet18 --device cuda:x", 2, "--device 'cuda:x'"),
    ("bench resnet18 --batch 0", 2, "--batch '0'"),
    ("bench resnet18 --batch a,b", 2, "--batch 'a,b'"),
    ("bench resnet18 --input 3x224", 2, "--input '3x224'"),
    ("bench resnet18 --input 4x32x32", 2, "in_chans=3"),
    ("bench resnet18 --dtype int8", 2, "--dtype 'int8'"),
    ("bench resnet18 --amp", 2, "--amp"),
    ("bench resnet18 --compile --compile-mode fast", 2, "--compile-mode 'fast'"),
    ("bench resnet18 --warmup -1", 2, "--warmup"),
    ("bench resnet18 --min-time nan", 2, "--min-time"),
    ("bench resnet18 --warmup inf", 2, "--warmup"),
    ("bench resnet18 --threads 0", 2, "--threads"),
    ("bench resnet5", 2, "resnet5"),
    ("bench resnet18 --stem big", 2, "--stem 'big'"),
    ("bench resnet18 --weights {missing}", 2, "no such file"),
    ("bench resnet18 --weights {ckpt}", 1, "--weights"),
    ("bench resnet18 -o {underfile}", 2, "--output"),
    ("bench resnet18 -o {tmp}/b.json -f csv", 2, "means json"),
    # convert: the target and OUT are checked before FILE is read
    ("convert {missing} --to hf -o {tmp}/o.pth", 2, "no such file"),
    ("convert {garbage} --to hf -o {tmp}/o.pth", 2, "garbage.pth"),
    ("convert {missing} --to caffe -o {tmp}/o.pth", 2, "--to 'caffe'"),
    ("convert {missing} --to hf -o {tmp}/o.txt", 2, "-o"),
    ("convert {missing} --to hf -o {tmp}/no/o.pth", 2, "does not exist"),
    ("convert {missing} --to hf", 2, "-o"),
    ("convert", 2, "FILE"),
    # no command, unknown command
    ("sumary resnet50", 2, "sumary"),
]


if not torch.cuda.is_available():
    BATTERY.append(("bench resnet18 --device cuda", 1, "CUDA is not available"))


@pytest.mark.parametrize(("args", "code", "fragment"), BATTERY, ids=[a for a, _, _ in BATTERY])
def test_bad_input_fails_politely(
    runner: CliRunner, files: dict[str, str], args: str, code: int, fragment: str
) -> None:
    argv = [a.format(**files) for a in args.split()]
    result = runner.invoke(app, argv)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment.format(**files) in lines[0]
    assert "Traceback" not in result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_the_battery_covers_every_command() -> None:
    commands = {info.name or (info.callback.__name__ if info.callback else "") for info in app.registered_commands}
    covered = {args.split()[0] for args, _, _ in BATTERY}
    assert commands <= covered | {"list_presets"}, commands - covered
    assert len(BATTERY) >= 40
