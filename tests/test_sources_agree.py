"""The API and the command line take the same things and give the same answers.

Every API function that has a command (summary, flops, diff, identify) runs on every kind of
source it takes, and its ``Result.to_dict()`` must equal the command's ``-f json`` output on the
same source written as text. Both go through one ``open_source``; a function that resolved its
argument its own way again (as ``diff`` and ``identify`` once did) fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

SEED = Path(__file__).parent / "user_models" / "seed_style.py"
USER = f"{SEED}:CifarResNet20"

# (API target, the same thing as command-line text, input, payload keys that may differ and why)
KINDS: dict[str, tuple[Callable[[], Any], str, tuple[int, ...], frozenset[str]]] = {
    "preset": (lambda: "resnet18", "resnet18", (1, 3, 32, 32), frozenset()),
    "spec string": (lambda: "resnet18:in_chans=1", "resnet18:in_chans=1", (1, 1, 32, 32), frozenset()),
    "ResNetSpec": (lambda: resolve("resnet20"), "resnet20", (1, 3, 32, 32), frozenset()),
    "file.py:Name": (lambda: USER, USER, (1, 3, 32, 32), frozenset()),
    # an object has no text: identify names it by its class, the command by what was typed
    "nn.Module": (lambda: build_model(resolve("resnet20"), "meta"), "resnet20", (1, 3, 32, 32), frozenset({"arch"})),
}  # fmt: skip

def _cli(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed  # schema_version included: the API's document carries it too


def _api(result: resnet_inspect.Result) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(json.dumps(result.to_dict()))  # as JSON holds it
    return parsed


def _same(api: dict[str, Any], cli: dict[str, Any], may_differ: frozenset[str]) -> None:
    assert {k: v for k, v in api.items() if k not in may_differ} == {
        k: v for k, v in cli.items() if k not in may_differ
    }


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


CALLS: dict[str, tuple[Callable[[Any, tuple[int, ...]], resnet_inspect.Result], Callable[[str, str], list[str]]]] = {
    "summary": (lambda t, s: resnet_inspect.summary(t, input_size=s), lambda a, s: ["summary", a, "-i", s]),
    "flops": (lambda t, s: resnet_inspect.flops(t, input_size=s), lambda a, s: ["flops", a, "-i", s]),
    "identify": (lambda t, s: resnet_inspect.identify(t, input_size=s), lambda a, s: ["identify", a, "-i", s]),
    # the other side is a preset with three channels: each side runs on its own channels
    "diff": (lambda t, s: resnet_inspect.diff(t, "resnet18", input_size=s), lambda a, s: ["diff", a, "resnet18", "-i", s]),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("function", list(CALLS))
def test_api_and_command_agree_on_every_kind_of_source(function: str, kind: str) -> None:
    target, text, shape, may_differ = KINDS[kind]
    call_api, call_cli = CALLS[function]
    _same(_api(call_api(target(), shape)), _cli(*call_cli(text, _shape(shape))), may_differ)


def test_the_api_document_is_the_command_s_json_byte_for_byte() -> None:
    # to_dict() once lacked schema_version: a file saved from the API was not the command's
    result = resnet_inspect.summary("resnet20", input_size=(1, 3, 32, 32))
    cli = CliRunner().invoke(app, ["summary", "resnet20", "-i", "1x3x32x32", "-f", "json"])
    assert cli.exit_code == 0, cli.output
    assert result.to_dict()["schema_version"] == 1  # first version of the document (test_cli)
    assert json.dumps(result.to_dict(), indent=2) + "\n" == cli.stdout


# --- the two disagreements reported in issue 21 -------------------------------------------------
def test_api_diff_gives_each_side_its_own_channels_as_the_command_does() -> None:
    # used to raise "has 3 channels but the model takes in_chans=1": B was traced on A's input
    api = _api(resnet_inspect.diff("resnet18", "resnet18:in_chans=1"))
    assert api == _cli("diff", "resnet18", "resnet18:in_chans=1")
    assert api["a"]["input_shape"] == [1, 3, 224, 224] and api["b"]["input_shape"] == [1, 1, 224, 224]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    path = tmp_path_factory.mktemp("ckpt") / "weights.pth"
    torch.save(build_model(resolve("resnet20"), "cpu").state_dict(), path)
    return path


def test_api_identify_reads_a_checkpoint_as_the_command_does(checkpoint: Path) -> None:
    # used to say "unknown architecture": the API took the path for a spec string
    for target in (str(checkpoint), checkpoint):  # text, and a Path
        result = resnet_inspect.identify(target)
        assert result.data.identified.preset == "resnet20" and result.data.proved
        assert _api(result) == _cli("identify", str(checkpoint))


def test_a_checkpoint_is_not_a_model_to_summarise(checkpoint: Path) -> None:
    with pytest.raises(resnet_inspect.SpecError) as info:  # a UsageError, which is a SpecError
        resnet_inspect.summary(checkpoint)
    assert info.value.subject == "model_or_spec" and "checkpoint" in str(info.value)


# --- bench: the timings differ run to run; what was timed must not --------------------------------
TIMED = ("variant", "spec", "batch", "input_shape", "status", "flops")
BENCH_KINDS = {  # the bench builds its own copies on the device: our variants and user code
    "preset": (lambda: "resnet20", "resnet20"),
    "spec string": (lambda: "resnet20:in_chans=1", "resnet20:in_chans=1"),
    "ResNetSpec": (lambda: resolve("resnet20"), "resnet20"),
    "file.py:Name": (lambda: USER, USER),
}


@pytest.mark.parametrize("kind", list(BENCH_KINDS))
def test_api_bench_and_the_command_time_the_same_configuration(kind: str) -> None:
    target, text = BENCH_KINDS[kind]
    api = _api(resnet_inspect.bench(target(), warmup_s=0, min_time_s=0.005, threads=1))
    cli = _cli("bench", text, "--warmup", "0", "--min-time", "0.005", "--threads", "1")
    assert [{k: r[k] for k in TIMED} for r in api["results"]] == [{k: r[k] for k in TIMED} for r in cli["results"]]
    assert api["schema_version"] == cli["schema_version"] == 1


@pytest.mark.parametrize("text", ["resnet5", "resnet18:groups=x", f"{SEED}:NoSuchModel"])
def test_a_bad_source_fails_with_the_same_words(text: str) -> None:
    with pytest.raises(resnet_inspect.InspectError) as info:
        resnet_inspect.summary(text)
    result = CliRunner().invoke(app, ["summary", text])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {info.value}"


def test_a_missing_checkpoint_is_named_by_the_argument_that_gave_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pth")
    with pytest.raises(resnet_inspect.InspectError) as info:
        resnet_inspect.identify(missing)
    assert str(info.value).startswith(f"target {missing!r}") and "no such file" in str(info.value)
    result = CliRunner().invoke(app, ["identify", missing])
    assert result.exit_code == 2 and result.output.startswith(f"error: FILE {missing!r}")


@pytest.mark.parametrize(("typed", "said"), [
    ("resnt50", "did you mean resnet50?"),  # a mistyped preset is not a missing file
    ("weights.pth", "no such file"),  # a file name (an extension) that is not there
    ("ckpts/r50", "no such file"),  # a path
])  # fmt: skip
def test_identify_says_what_a_missing_target_looked_like(typed: str, said: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """identify takes a checkpoint path as well as a variant: text that names neither is
    reported as what it looks like, in the CLI and the API alike. Catches every failed variant
    taken for a missing file ('resnt50': no such file)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["identify", typed])
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    with pytest.raises(resnet_inspect.InspectError, match=said.replace("?", r"\?")):
        resnet_inspect.identify(typed)
