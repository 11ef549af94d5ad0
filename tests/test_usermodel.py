"""ARCH as the user's own code: loading it, every command on it, identify and diff by structure.

The models are in ``tests/user_models/seed_style.py``, written in the style of the seed posts:
a v1 ResNet-50 (stride on the first 1x1, a fixed AvgPool2d(7)), a ResNet-34 with a projection at
every stage start and a sigmoid head, a CIFAR ResNet-20 with option A by slicing and padding,
and resnet18 exactly, under other names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.identification.structure import identify_module
from resnet_inspect.sources import UserSource
from resnet_inspect.usermodel import (
    UserCodeError,
    build_user_model,
    import_source,
    is_user_code,
    parse_user_code,
)

MODELS = Path(__file__).parent / "user_models" / "seed_style.py"
SHAPES = {"ResNet50V1": (1, 3, 224, 224), "ResNet34Sigmoid": (2, 3, 64, 64),
          "CifarResNet20": (2, 3, 32, 32), "Renamed18": (1, 3, 64, 64)}  # fmt: skip


def user(name: str) -> str:
    return f"{MODELS}:{name}"


# --- what ARCH names ----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("my_resnet.py:ResNet50", True), ("models.resnet:build", True), ("a/b.py:Net(num_classes=10)", True),
    ("resnet50", False), ("resnet50:groups=32", False), ("block=basic", False), (None, False),
])  # fmt: skip
def test_user_code_is_told_from_a_spec_string(text: str | None, expected: bool) -> None:
    assert is_user_code(text) is expected


def test_arguments_are_literals_never_evaluated() -> None:
    parsed = parse_user_code("x.py:Net(10, widths=(64, 128), name='a', flag=True)")
    assert parsed.args == (10,) and dict(parsed.kwargs) == {"widths": (64, 128), "name": "a", "flag": True}
    with pytest.raises(UserCodeError, match="literals"):
        parse_user_code("x.py:Net(n=__import__('os').getcwd())")


# --- summary equals a real forward ------------------------------------------------------------
@pytest.mark.parametrize("name", list(SHAPES))
def test_summary_shapes_and_counts_equal_a_real_forward(name: str) -> None:
    source = parse_user_code(user(name))
    trace = UserSource(source).trace(SHAPES[name])
    real = build_user_model(source, "cpu").eval()
    outputs: dict[str, tuple[int, ...]] = {}

    def keep(name: str) -> object:
        def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
            outputs[name] = tuple(out.shape)

        return hook

    for n, m in real.named_modules():
        if n and not any(True for _ in m.children()):
            m.register_forward_hook(keep(n))  # a module called twice: its last call, as the trace  # type: ignore[arg-type]
    with torch.no_grad():
        out = real(torch.randn(SHAPES[name]))
    assert trace.output_shape == tuple(out.shape)
    assert trace.totals.params == sum(p.numel() for p in real.parameters())
    leaves = {r.name: r.output_shape for r in trace.layers if r.is_leaf and r.name in outputs}
    assert leaves == outputs


def test_renamed_copy_counts_exactly_what_resnet18_counts() -> None:
    mine = UserSource(parse_user_code(user("Renamed18"))).trace((1, 3, 224, 224))
    ours = resnet_inspect.trace("resnet18")
    assert mine.totals.macs == ours.totals.macs == 1_814_073_344  # torchvision: 1.81 GFLOPS (MACs)
    assert mine.totals.flops == ours.totals.flops
    assert (mine.totals.receptive_field, mine.totals.jump) == (ours.totals.receptive_field, ours.totals.jump)


def test_receptive_field_said_plainly_where_it_cannot_be_followed(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "mlp.py").write_text(
        "from torch import nn\n"
        "def mlp():\n    return nn.Sequential(nn.Flatten(), nn.Linear(48, 4))\n"
    )
    result = runner.invoke(app, ["summary", f"{tmp_path / 'mlp.py'}:mlp", "-i", "1x3x4x4"])
    assert result.exit_code == 0, result.stderr
    assert "receptive field: not computed" in result.stdout


# --- identify --------------------------------------------------------------------------------
def _identify(name: str) -> resnet_inspect.api.Result:
    return resnet_inspect.identify(user(name), input_size=SHAPES[name] if "Cifar" in name else None)


def test_identify_names_the_v1_stride_and_the_fixed_pool() -> None:
    """Each fact once, at its place: the stride on the 1x1 (words', for the three blocks; not
    the structure's line again, nor the localiser's conv shape) where the outputs part, and
    the fixed pool, the same function at 224x224 (its map is 7x7 there)."""
    match = _identify("ResNet50V1").data
    assert match.preset == "resnet50"
    assert match.departures == (
        "layer2.0, layer3.0 and layer4.0: the stride 2 is on conv1, the branch's 1st conv, where resnet50 "
        "strides its 2nd",
        "avgpool: a fixed 7x7 average pool in the head where resnet50 pools adaptively to 1x1: the same "
        "here, where the map is 7x7, but not at other input sizes",
    )
    assert match.verdict.startswith("nearest preset: resnet50, with 2 departures; a different "
                                    "function from layer2.0.conv1 on")  # fmt: skip
    assert [(m.effect.value, m.divergence) for m in match.marked] == [
        ("changes the function", True), ("keeps the function", False)]  # fmt: skip
    # what the localiser measured stays in the JSON's comparison
    assert match.proof.departure[0].startswith("layer2.0.conv1: its output is 1x128x28x28 where resnet50's")


def test_identify_names_the_extra_projection_and_the_sigmoid_head() -> None:
    """The projection said once (words', at layer1.0); the head by the structure's line,
    which shows the Linear's size too, marked as the words mark the Sigmoid; x.view listed
    as keeping the function. The layers do not align: the marks are the reading's."""
    match = _identify("ResNet34Sigmoid").data
    assert match.preset == "resnet34"
    assert match.departures == (
        "layer1.0: a projection shortcut (conv, BatchNorm) where resnet34's is the identity",
        "x.view (or reshape) where resnet34 calls torch.flatten: the same values (view refuses a tensor "
        "whose strides do not allow it)",
        "head: Linear(512, 1) + Sigmoid where resnet34 has Linear(512, 1000)",
    )
    assert [m.effect.value for m in match.marked] == ["changes the function", "keeps the function",
                                                      "changes the function"]  # fmt: skip
    assert "function not compared" in match.verdict and "exactly" not in match.verdict


def test_identify_of_seed000_names_the_relu_before_the_sum(runner: CliRunner) -> None:
    """The issue's first bullet: seed 000's resnet50, pasted as a user would, at 224x224 (its
    AvgPool2d(7) needs it). The ReLU on the branch before the sum is named, where the outputs
    part, with the v1 stride and the fixed pool; never "exactly"."""
    seed = Path(__file__).parent / "user_models" / "seeds" / "seed000_resnet50.py"
    result = runner.invoke(app, ["identify", f"{seed}:resnet", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["exact"] is False and "exactly" not in payload["verdict"]
    assert payload["verdict"].startswith("nearest preset: resnet50, with 3 departures; a different function "
                                         "from stage1.0 on (resnet50's layer1.0): outputs differ")  # fmt: skip
    marked = payload["departures_marked"]
    assert [(m["text"].split(": ", 1)[1], m["effect"], m["divergence"]) for m in marked] == [
        ("a ReLU on the branch before the sum (resnet50 applies it after)", "changes the function", True),
        ("the stride 2 is on conv1, the branch's 1st conv, where resnet50 strides its 2nd",
         "changes the function", False),
        ("a fixed 7x7 average pool in the head where resnet50 pools adaptively to 1x1: the same here, where "
         "the map is 7x7, but not at other input sizes", "keeps the function", False),
    ]  # fmt: skip
    assert marked[0]["text"].startswith("every block (stage1.0 ... stage4.2): ")
    assert marked[1]["places"] == ["stage2.0", "stage3.0", "stage4.0"]


def test_option_a_padded_on_both_sides_is_resnet20s_layers_but_not_its_function() -> None:
    """The seed pads the new channels half before, half after; resnet20 (and the paper's
    option A as torchvision-style code writes it) after the old ones. The structure is the
    same; with the same weights the sums differ from the first stage change on. It was
    "matches resnet20 exactly" by structure alone."""
    match = _identify("CifarResNet20").data
    assert match.verdict.startswith("same layers as resnet20 but a different function from blocks.3 on "
                                    "(resnet20's layer2.0): outputs differ on 3 random inputs")  # fmt: skip
    assert not match.exact and match.proof.divergence == "layer2.0"


def test_identify_says_an_exact_copy_matches_exactly(runner: CliRunner) -> None:
    result = runner.invoke(app, ["identify", user("Renamed18")])
    assert result.exit_code == 0, result.stderr
    assert "matches resnet18 exactly" in result.stdout


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2",
                                  "resnet50c", "resnet50d", "resnet20"])  # fmt: skip
def test_identify_of_our_own_variant_matches_itself(name: str) -> None:
    shape = (1, 3, 32, 32) if name == "resnet20" else (1, 3, 64, 64)
    match = identify_module(resnet_inspect.build(name, device="meta"), shape)
    assert match.verdict == f"matches {name} exactly"


def test_identify_names_widths_groups_and_pooled_shortcuts_in_words() -> None:
    from resnet_inspect.identification.structure import departures, skeleton
    from resnet_inspect.spec import PRESETS

    def bones(name: str) -> object:
        return skeleton(resnet_inspect.build(name, device="meta"), (1, 3, 64, 64))

    wide = departures(bones("resnext50_32x4d"), bones("resnet50"), "resnet50", PRESETS["resnet50"], (1, 3, 64, 64))  # type: ignore[arg-type]
    # ResNeXt-50 32x4d: 128-wide grouped 3x3 in layer1 where resnet50 has 64 (torchvision's widths)
    assert wide[0] == "main path widths 128-128(g32)-256 at layer1 where resnet50 has 64-64-256"
    no_bn = resnet_inspect.build("resnet18", norm="none", device="meta")
    bare = departures(skeleton(no_bn, (1, 3, 64, 64)), bones("resnet18"), "resnet18", PRESETS["resnet18"], (1, 3, 64, 64))
    assert "normalisation none at every block where resnet18 has 2 x BatchNorm" in bare
    d = departures(bones("resnet50d"), bones("resnet50c"), "resnet50c", PRESETS["resnet50c"], (1, 3, 64, 64))  # type: ignore[arg-type]
    assert d == ("an average-pooled projection (ResNet-D) shortcut at layer2.0, layer3.0 and layer4.0 "
                 "where resnet50c (option B) has a projection shortcut",)  # fmt: skip


# --- diff -----------------------------------------------------------------------------------
def test_diff_aligns_the_renamed_copy_by_structure_with_zero_changes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", "resnet18", user("Renamed18"), "--exit-code", "-f", "json", "-d", "3"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["identical"]
    assert {row["status"] for row in payload["layers"]} == {"same"}
    assert "layer1.0.conv1" in {row["name"] for row in payload["layers"]}  # B's stage1.0.c1, renamed


def test_diff_against_v1_shows_the_strided_1x1() -> None:
    d = resnet_inspect.diff("resnet50", user("ResNet50V1"), depth=3).data
    rows = {r.name: r for r in d.layers}
    assert rows["layer2.0.conv1"].changed == ("stride", "output_shape", "macs")
    assert rows["layer2.0.conv2"].changed == ("stride",)  # 28x28 either way
    assert d.totals[0].delta == 0  # same parameters


# --- check ------------------------------------------------------------------------------------
def test_check_says_whether_a_checkpoint_loads_into_the_users_model(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "renamed.pth"
    torch.save(build_user_model(parse_user_code(user("Renamed18")), "cpu").state_dict(), path)
    loads = runner.invoke(app, ["check", user("Renamed18"), str(path)])
    assert loads.exit_code == 0, loads.stderr
    assert "loads strictly into" in loads.stdout
    assert runner.invoke(app, ["check", "resnet18", str(path)]).exit_code == 1  # other names


# --- flops and bench -----------------------------------------------------------------------------
def test_an_operator_without_a_rule_is_counted_by_the_fallback_and_marked(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "attn.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 8, 1)\n"
        "    def forward(self, x):\n"
        "        t = self.conv(x).flatten(2)\n"
        "        return torch.bmm(t, t.transpose(1, 2))\n"
    )
    result = runner.invoke(app, ["flops", f"{tmp_path / 'attn.py'}:Net", "-i", "1x3x4x4", "--by", "operator",
                                 "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ops = {o["operator"]: o for o in json.loads(result.stdout)["operators"]}
    # bmm of (1, 8, 16) by (1, 16, 8): 8 * 8 * 16 = 1,024 MACs, counted by torch's FLOP counter
    assert ops["torch.bmm"]["flops"] == 2 * 1024 and ops["torch.bmm"]["rule"] != ops["convolution"]["rule"]
    table = runner.invoke(app, ["flops", f"{tmp_path / 'attn.py'}:Net", "-i", "1x3x4x4"])
    assert "torch.bmm counted by torch's FLOP counter" in table.stdout


def test_bench_plans_the_users_model_beside_a_preset() -> None:
    from resnet_inspect.benchmark import plan

    planned = plan(["resnet20", user("CifarResNet20")], input_shape=(3, 32, 32))
    ours, mine = planned.tasks
    assert mine.label == user("CifarResNet20")
    # the same network; its x.mean((2, 3)) head costs what our adaptive pooling does (one FLOP
    # per input element, 64 x 8 x 8): the mean's rule and global pooling's agree
    assert planned.flops(ours) == planned.flops(mine)


def test_bench_times_the_users_model(runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", user("CifarResNet20"), "--min-time", "0.02", "--warmup", "0.01",
                                 "-i", "3x32x32", "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)["results"]
    assert row["variant"] == user("CifarResNet20") and row["spec"] is None and row["status"] == "ok"


# --- failures: one line each ---------------------------------------------------------------------
BROKEN = {
    "syntax.py": "def f(:\n",
    "imports.py": "import not_a_module_anywhere_xyz\n",
    "raises.py": "from torch import nn\nclass Net(nn.Module):\n"
                 "    def __init__(self):\n        raise ValueError('widths must be positive')\n",
    "notmodule.py": "def build():\n    return 42\n",
    "forward.py": "from torch import nn\nclass Net(nn.Module):\n"
                  "    def forward(self, x):\n        raise KeyError('oops')\n",
    "atimport.py": "raise RuntimeError('no GPU here')\n",
    "escapes.py": "def net():\n    raise ValueError('\\x1b[2Jcleared')\n",
}  # fmt: skip
FAILURES = [
    ("summary missing.py:Net", "missing.py: no such file"),
    ("summary syntax.py:f", "syntax error at syntax.py:1"),
    ("summary imports.py:Net", "an import inside it failed: ModuleNotFoundError"),
    ("summary atimport.py:Net", "raised RuntimeError: no GPU here while being imported"),
    ("summary raises.py:Nope", "has no 'Nope' (it defines: Net)"),
    ("flops raises.py:Net", "Net() raised ValueError: widths must be positive"),
    ("summary notmodule.py:build", "returned a int, not an nn.Module"),
    ("summary forward.py:Net", "Net's forward on 1x3x224x224 raised KeyError"),
    ("summary raises.py:Net(x=open)", "has no 'open' (named in the arguments of Net; it defines: Net)"),
    ("summary raises.py:Net(x=open())", "'open()' is a call; arguments are literals"),
    ("summary raises.py:Net --groups 32", "--groups: architecture flags apply to presets"),
    ("identify raises.py:Net", "Net() raised ValueError"),
    ("diff resnet18 raises.py:Net", "Net() raised ValueError"),
    ("check raises.py:Net x.pth", "Net() raised ValueError"),
    ("check raises.py:Nope x.pth", "has no 'Nope'"),
    ("bench raises.py:Net", "Net() raised ValueError"),
    ("summary escapes.py:net", "raised ValueError: \\x1b[2Jcleared"),  # escapes shown, not obeyed
]


@pytest.fixture()
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "x.pth").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("args", "fragment"), FAILURES, ids=[a for a, _ in FAILURES])
def test_each_failure_of_user_code_is_one_line(runner: CliRunner, broken: Path, args: str, fragment: str) -> None:
    result = runner.invoke(app, args.split())
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr


def test_traceback_shows_the_users_own_frames_only(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(app, ["summary", "raises.py:Net", "--traceback"])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "raises.py" in result.stderr
    assert "resnet_inspect" not in result.stderr.replace("error: ", "")
    assert result.stderr.splitlines()[-1].startswith("error: ")


def test_view_and_contiguous_keep_their_shapes_on_meta(tmp_path: Path) -> None:
    """Hand-written heads flatten with x.view(n, -1); on the meta device the shape rule must
    give what torch gives (a view's sizes are not flatten's start and end dims)."""
    (tmp_path / "heads.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(12, 2)\n"
        "    def forward(self, x):\n"
        "        x = x.contiguous().view(x.size(0), -1)\n"
        "        return self.fc(x.reshape((x.shape[0], 12)))\n"
    )
    trace = UserSource(parse_user_code(f"{tmp_path / 'heads.py'}:Net")).trace((3, 3, 2, 2))
    assert trace.output_shape == (3, 2)


def test_a_file_named_like_a_loaded_module_does_not_replace_it(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("from torch import nn\ndef net():\n    return nn.Conv2d(3, 4, 3)\n")
    result = runner.invoke(app, ["summary", f"{tmp_path / 'json.py'}:net", "-i", "1x3x8x8"])
    assert result.exit_code == 0, result.stderr
    assert sys.modules["json"].dumps([1]) == "[1]"


def test_help_says_the_file_is_run(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", "--help"], env={"COLUMNS": "200"})
    assert "RUNS that file" in result.stdout


# --- the Python API ---------------------------------------------------------------------------
def test_api_results_print_render_html_and_give_records() -> None:
    sys.path.insert(0, str(MODELS.parent))
    try:
        import seed_style  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(MODELS.parent))
    result = resnet_inspect.summary(seed_style.ResNet34Sigmoid(), input_size=(1, 3, 64, 64), depth=1)
    assert "ResNet34Sigmoid @ 1x3x64x64" in str(result)
    assert "<table" in result._repr_html_() and "layer4" in result._repr_html_()
    records = result.records()
    assert [r["name"] for r in records] == ["pre", "layer1", "layer2", "layer3", "layer4", "fc"]
    assert result.to_dict()["totals"]["params"] == sum(p.numel() for p in seed_style.ResNet34Sigmoid().parameters())
    flops = resnet_inspect.flops("resnet18", by="stage")
    assert [r["name"] for r in flops.records()] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]


@pytest.mark.parametrize(("call", "argument"), [
    (lambda: resnet_inspect.summary(42), "model_or_spec"),
    (lambda: resnet_inspect.summary("resnet18", input_size=(3, 224)), "input_size"),
    (lambda: resnet_inspect.flops("resnet18", by="block"), "by"),
    (lambda: resnet_inspect.diff("resnet18", 3.5), "b"),
    (lambda: resnet_inspect.identify(nn), "target"),
])  # fmt: skip
def test_api_errors_name_the_argument(call: object, argument: str) -> None:
    with pytest.raises(resnet_inspect.InspectError) as info:
        call()  # type: ignore[operator]
    assert info.value.subject == argument and str(info.value).startswith(argument)


@pytest.mark.parametrize(
    "name",
    ["seresnet50", "seresnext50_32x4d", "resnetrs50", "resnetblur50", "res2net50_26w_4s",
     "res2net50_48w_2s", "resnest50d", "skresnet18", "legacy_seresnet18"],
)  # fmt: skip
def test_a_preset_given_as_a_module_matches_itself_by_structure(name: str) -> None:
    """The candidates are ranked by the convs on a block's main path: an SE gate's two 1x1s
    and a blur filter count, as the skeleton counts them. Catches SE nets ranked against
    ResNeSt, Res2Net and selective-kernel presets, whose blocks also have five convs (seresnet50
    came out as 'res2net50_26w_4s, with 3 departures')."""
    from resnet_inspect import build
    from resnet_inspect.identification.structure import identify_module

    assert identify_module(build(name, device="meta"), (1, 3, 64, 64)).verdict == f"matches {name} exactly"


# --- models as people write them: instances, and names as arguments --------------------------------
# tests/user_models/seeds/: written in the manner of seed 000 (a ResNet-50 made at module level
# with its block class passed in, run and printed at import) and seed 003 (resnet18 likewise).
SEEDS = Path(__file__).parent / "user_models" / "seeds"
R50 = SEEDS / "seed000_resnet50.py"
R18 = SEEDS / "seed003_resnet18.py"
# torchvision's published parameter counts (torchvision.models docs: "num_params"); a v1 stride
# and a ReLU on the branch change no parameter
RESNET18_PARAMS, RESNET34_PARAMS, RESNET50_PARAMS = 11_689_512, 21_797_672, 25_557_032


def params_of(runner: CliRunner, arch: str, *more: str) -> int:
    result = runner.invoke(app, ["summary", arch, "-f", "json", *more])
    assert result.exit_code == 0, result.stderr
    return int(json.loads(result.stdout)["totals"]["params"])


def test_a_module_level_instance_is_used_as_it_is(runner: CliRunner) -> None:
    """Before: ``resnet() raised TypeError: ResNet.forward() missing ...``: it was called."""
    assert params_of(runner, f"{R18}:resnet18", "--input", "1x3x64x64") == RESNET18_PARAMS
    result = runner.invoke(app, ["identify", f"{R50}:resnet"])
    assert result.exit_code == 0, result.stderr
    assert "resnet50" in result.stdout  # the nearest preset (the verdict is identify's to word)


def test_an_instance_is_copied_never_moved_or_changed() -> None:
    """The API caller may hold the object: building on meta must not move it there, and what a
    command does to a CPU build (weights loaded, dtype changed) must not reach it."""
    user_model = parse_user_code(f"{R18}:resnet18")
    original = import_source(user_model).resnet18
    meta = build_user_model(user_model, "meta")
    before = {k: v.clone() for k, v in original.state_dict().items()}
    assert meta is not original and all(p.is_meta for p in meta.parameters())
    cpu = build_user_model(user_model, "cpu")
    assert cpu is not original and cpu.conv1.weight is not original.conv1.weight
    with torch.no_grad():
        cpu.conv1.weight.zero_()
    cpu.half()
    after = original.state_dict()
    assert all(not v.is_meta and v.dtype == before[k].dtype and torch.equal(v, before[k]) for k, v in after.items())
    assert cpu.fc.weight.requires_grad and cpu.bn1.running_var.shape == (64,)


def test_an_instance_given_arguments_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", f"{R18}:resnet18()"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].endswith(
        "resnet18 is an nn.Module instance (ResNet), used as it is: give it without arguments "
        f"({R18}:resnet18)")  # fmt: skip


@pytest.mark.parametrize(("arch", "params"), [
    (f"{R18}:ResNet(BasicBlock, [2, 2, 2, 2])", RESNET18_PARAMS),
    # resnet34 with a 10-class head: 21,797,672 - (512 * 1000 + 1000) + (512 * 10 + 10)
    (f"{R18}:ResNet(block=BasicBlock, layers=[3, 4, 6, 3], num_classes=10)", RESNET34_PARAMS - 513_000 + 5_130),
    (f"{R50}:ResNet(Bottleneck,[3,4,6,3],1000)", RESNET50_PARAMS),
])  # fmt: skip
def test_names_defined_in_the_file_are_arguments(runner: CliRunner, arch: str, params: int) -> None:
    """Before: refused, ``Bottleneck`` is not a literal."""
    assert params_of(runner, arch) == params


def test_names_inside_containers_and_dotted_names(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "stack.py").write_text(
        "from torch import nn\n"
        "class Stack(nn.Sequential):\n"
        "    def __init__(self, kinds, widths=(3, 4), act=None):\n"
        "        layers = [k(widths[0], widths[1], 1) for k in kinds]\n"
        "        super().__init__(*layers, act['fn']())\n")  # fmt: skip
    arch = f"{tmp_path / 'stack.py'}:Stack([nn.Conv2d], widths=(3, 5), act={{'fn': nn.ReLU}})"
    model = build_user_model(parse_user_code(arch), "meta")
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU"] and model[0].out_channels == 5
    assert params_of(runner, arch, "--input", "1x3x8x8") == 3 * 5 + 5


@pytest.mark.parametrize(("arguments", "fragment"), [
    ("make_block()", "'make_block()' is a call"),
    ("[2, 2] * 2", "'[2, 2] * 2' is an operation"),
    ("-BasicBlock", "'-BasicBlock' is an operation"),
    ("CONFIG['layers']", "\"CONFIG['layers']\" is a subscript"),
    ("[BasicBlock, print('x')]", "\"print('x')\" is a call"),
    ("lambda: 1", "'lambda: 1' is not a literal or a name"),
    ("*BLOCKS", "'*BLOCKS' is not a literal or a name"),
    ("BasicBlock().x", "'BasicBlock().x' is a call"),
])  # fmt: skip
def test_calls_operators_and_subscripts_in_the_arguments_are_refused(arguments: str, fragment: str) -> None:
    with pytest.raises(UserCodeError) as caught:
        parse_user_code(f"{R18}:ResNet({arguments})")  # refused as text: the file is not imported
    assert fragment in str(caught.value) and "never evaluated" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_name_in_the_arguments_lists_what_the_file_defines(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", f"{R18}:ResNet(BasicBlok, [2, 2, 2, 2])"])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {R18}: has no 'BasicBlok' (named in the arguments of ResNet; it defines: "
                             "BasicBlock, ResNet, resnet34, resnet18)\n")  # fmt: skip


def test_a_name_nested_as_deep_as_the_parser_allows_is_read() -> None:
    deep = "[" * 150 + "BasicBlock" + "]" * 150  # under the parser's 200 levels
    value = parse_user_code(f"x.py:Net({deep})").args[0]
    for _ in range(150):
        value = value[0]
    assert repr(value) == "BasicBlock"


def test_an_instance_that_cannot_be_copied_asks_for_a_function(runner: CliRunner, tmp_path: Path) -> None:
    """Never the object itself: a copy or nothing (deepcopy cannot copy a lock)."""
    (tmp_path / "locked.py").write_text("import threading\nfrom torch import nn\n"
                                        "net = nn.Linear(4, 2)\nnet.lock = threading.Lock()\n")  # fmt: skip
    result = runner.invoke(app, ["summary", f"{tmp_path / 'locked.py'}:net", "--input", "1x1x1x4"])
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and "net (an nn.Module instance) cannot be copied to meta: TypeError" in line
    assert line.endswith("define a function that builds it and name that instead")
