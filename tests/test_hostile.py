"""Hostile input: checkpoints with a ResNet's key names and nonsense shapes, raw bytes, special
files, huge numbers, terminals that cannot take UTF-8, escape sequences inside key names.

Every case ends in exit 0, 1 or 2 with at most one ``error:`` line and no traceback; the rules
(what is refused, and how) are this project's own, so the expectations are derived by hand.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect.checkpoint import (
    compare_shapes,
    read_checkpoint,
)
from resnet_inspect.checkpoint import read as read_module
from resnet_inspect.checkpoint.compare import load_strictly
from resnet_inspect.checkpoint.read import PREFIXES, _strip_prefixes
from resnet_inspect.cli import app
from resnet_inspect.cli.output import check_output_path, write_atomic
from resnet_inspect.identification import IdentifyError, identify_shapes
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve
from resnet_inspect.units import printable

ROOT = Path(__file__).resolve().parent.parent
TINY = "widths=8,16,32,64,stem_width=8,num_classes=5"
# the key names of real layouts: torchvision's (downsample.0 conv) and timm's -d (deep stem,
# downsample.1 conv after a pool), as templates for nonsense shapes
TEMPLATES = {
    arch: {k: tuple(v.shape) for k, v in build_model(resolve(arch), "meta").state_dict().items()}
    for arch in (f"resnet50:{TINY}", f"resnet18d:{TINY}", "resnet20")
}


def save(path: Path, sd: dict[str, torch.Tensor]) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save(sd, path)
    return path


def polite(result: Any, codes: tuple[int, ...] = (1, 2)) -> str:
    """Exit with one of ``codes``; no traceback; when nothing was printed, one error line."""
    assert result.exit_code in codes, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    if result.stdout == "":
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return str(lines[0])
    return str(result.stderr)


# --- 1. checkpoints with ResNet key names and tensors of any rank or size ------------------------
@st.composite
def nonsense_shapes(draw: st.DrawFn) -> dict[str, tuple[int, ...]]:
    """A real layout's keys, some dropped, some added, some shapes replaced by any rank
    (0 to 5) and any size (0 included)."""
    template = draw(st.sampled_from(sorted(TEMPLATES)))
    shapes = dict(TEMPLATES[template])
    any_shape = st.lists(st.integers(0, 9), min_size=0, max_size=5).map(tuple)
    for key in draw(st.lists(st.sampled_from(sorted(shapes)), max_size=8)):
        if draw(st.booleans()):
            shapes[key] = draw(any_shape)
        else:
            shapes.pop(key, None)
    extra = st.sampled_from(["layer1.9.conv1.weight", "layer7.0.conv2.weight", "layer1.0.downsample.0.weight",
                             "layer2.0.downsample.1.weight", "conv1.0.weight", "fc.weight", "bn1.weight",
                             "layer01.00.conv1.weight", "layer1.999999999999.conv1.weight"])  # fmt: skip
    for key in draw(st.lists(extra, max_size=3)):
        shapes[key] = draw(any_shape)
    return shapes


@settings(max_examples=300, deadline=timedelta(seconds=10))
@given(nonsense_shapes())
def test_identify_refuses_nonsense_shapes_with_identify_error_only(shapes: dict[str, tuple[int, ...]]) -> None:
    """Caught: a vector where a conv weight belongs, or a 0-sized dimension, ended in
    ValueError / IndexError / ZeroDivisionError tracebacks."""
    try:
        found = identify_shapes(shapes)
    except IdentifyError as exc:
        assert str(exc).startswith("cannot identify")
        return
    assert found.spec.num_stages >= 1  # whatever it names must be a buildable spec


@pytest.mark.parametrize(("key", "shape", "fragment"), [
    ("conv1.weight", (8,), "conv1.weight is 8; expected a conv weight"),
    ("conv1.weight", (), "conv1.weight is scalar"),
    ("layer1.0.conv3.weight", (0, 8, 1, 1), "layer1.0.conv3.weight is 0x8x1x1"),
    ("layer1.0.conv2.weight", (8, 0, 3, 3), "none of them 0"),
    ("fc.weight", (5, 64, 1, 1), "fc.weight is 5x64x1x1; expected a matrix"),
])  # fmt: skip
def test_a_wrong_rank_or_empty_dimension_is_named(key: str, shape: tuple[int, ...], fragment: str) -> None:
    shapes = dict(TEMPLATES[f"resnet50:{TINY}"]) | {key: shape}
    with pytest.raises(IdentifyError, match="cannot identify") as info:
        identify_shapes(shapes)
    assert fragment in str(info.value)


@settings(max_examples=15, deadline=timedelta(seconds=30),
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(shapes=nonsense_shapes(), suffix=st.sampled_from([".pth", ".safetensors"]))
def test_every_command_survives_nonsense_state_dicts(
    tmp_path: Path, shapes: dict[str, tuple[int, ...]], suffix: str
) -> None:
    path = save(tmp_path / f"w{suffix}", {k: torch.zeros(s) for k, s in shapes.items()})
    runner = CliRunner()
    for args in (["identify", str(path)], ["check", f"resnet50:{TINY}", str(path)],
                 ["summary", "resnet20", "--weights", str(path), "-f", "json"],
                 ["diff", "resnet20", "resnet20", "--weights-a", str(path), "-f", "csv"]):  # fmt: skip
        polite(runner.invoke(app, args), codes=(0, 1))


# --- raw bytes: random files and damaged real ones ------------------------------------------------


_VALID: dict[str, bytes] = {}


def _valid_bytes(suffix: str, tmp_path: Path) -> bytes:
    if suffix not in _VALID:
        sd = build_model(resolve("resnet20:stem_width=4,widths=4,4,4"), "cpu").state_dict()
        _VALID[suffix] = save(tmp_path / f"valid{suffix}", sd).read_bytes()
    return _VALID[suffix]


@settings(max_examples=60, deadline=timedelta(seconds=30),
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data(), suffix=st.sampled_from([".pth", ".safetensors", ".bin"]))
def test_raw_and_damaged_bytes_are_refused_politely(tmp_path: Path, data: st.DataObject, suffix: str) -> None:
    how = data.draw(st.sampled_from(["random", "truncated", "flipped", "safetensors header"]))
    if how == "random":
        raw = data.draw(st.binary(min_size=1, max_size=2048))
    elif how == "safetensors header":  # a length and a JSON header of anything
        header = data.draw(st.recursive(st.none() | st.integers() | st.text(max_size=8),
                                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                                        max_leaves=10))  # fmt: skip
        import json

        text = json.dumps(header).encode()
        raw = len(text).to_bytes(8, "little") + text + data.draw(st.binary(max_size=64))
    else:
        raw = bytearray(_valid_bytes(".safetensors" if suffix == ".safetensors" else ".pth", tmp_path))
        if how == "truncated":
            raw = raw[: data.draw(st.integers(1, len(raw) - 1))]
        else:
            for _ in range(data.draw(st.integers(1, 8))):
                i = data.draw(st.integers(0, len(raw) - 1))
                raw[i] = data.draw(st.integers(0, 255))
    path = tmp_path / f"w{suffix}"
    path.write_bytes(bytes(raw))
    polite(CliRunner().invoke(app, ["identify", str(path)]), codes=(0, 1, 2))


# --- 2. special files: never opened where that could block, never replaced -----------------------
def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh process (a hang fails the test instead of the suite)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)  # fmt: skip


def test_a_fifo_as_checkpoint_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "weights.pth"
    os.mkfifo(fifo)
    for args in (["identify", str(fifo)], ["check", "resnet18", str(fifo)]):
        result = _run(*args)  # before: open() waited for a writer forever
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and "FIFO" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_fifo_as_weights_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "w.pth"
    os.mkfifo(fifo)
    line = polite(runner.invoke(app, ["summary", "resnet18", "--weights", str(fifo)]), codes=(2,))
    assert "--weights" in line and "not a regular file" in line


@pytest.mark.parametrize("target", ["fifo", "directory", "dev-null", "link-to-dev-null", "link-to-fifo"])
def test_output_onto_a_special_file_is_refused_and_it_is_left_alone(
    runner: CliRunner, tmp_path: Path, target: str
) -> None:
    fifo, folder = tmp_path / "pipe", tmp_path / "folder"
    os.mkfifo(fifo)
    folder.mkdir()
    path = {"fifo": fifo, "directory": folder, "dev-null": Path(os.devnull)}.get(target)
    if path is None:  # a link: to /dev/null or to the FIFO
        path = tmp_path / "link.json"
        path.symlink_to(os.devnull if target == "link-to-dev-null" else fifo)
    before = sorted(os.listdir(tmp_path))
    line = polite(runner.invoke(app, ["summary", "resnet20", "--depth", "1", "-f", "json", "-o", str(path)]), codes=(2,))
    assert "--output" in line
    assert sorted(os.listdir(tmp_path)) == before  # not even a temporary file left behind
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # /dev/null is still the device
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_through_a_link_writes_the_target_and_keeps_the_link(runner: CliRunner, tmp_path: Path) -> None:
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    assert runner.invoke(app, ["list", "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and '"command": "list"' in target.read_text()


def test_output_onto_this_process_stdout_is_refused(tmp_path: Path) -> None:
    """/dev/stdout resolves to whatever stdout is; when that is a file, renaming over it
    would take the output away from whoever redirected it."""
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        result = subprocess.run([sys.executable, "-m", "resnet_inspect", "list", "-f", "csv", "-o", "/dev/stdout"],
                                stdout=out, stderr=subprocess.PIPE, text=True, timeout=120,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 2 and "use - for stdout" in result.stderr
    assert log.read_text() == ""


def test_a_reader_that_leaves_before_the_help_gets_no_error_line() -> None:
    """``summary --help | head -2``: rich meets the closed pipe inside the command's parsing
    and exits; that is the reader leaving, not the command failing, so nothing goes to stderr
    (before: "error: SystemExit(1) raised at console.py:2042 ended the command")."""
    proc = subprocess.Popen([sys.executable, "-m", "resnet_inspect", "summary", "--help"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"})  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # gone before the tool has written a byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert err == ""


def test_dash_means_stdout(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["list", "-f", "csv", "-o", "-"])
    assert result.exit_code == 0 and result.stdout.startswith("preset,")
    assert not (Path.cwd() / "-").exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_output_files_respect_the_umask(runner: CliRunner, tmp_path: Path, umask: int, mode: int) -> None:
    """Like `> file` in a shell (mkstemp alone made every output 0600)."""
    old = os.umask(umask)
    try:
        assert runner.invoke(app, ["list", "-o", str(tmp_path / "out.json")]).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out.json").st_mode) == mode


def test_an_existing_output_keeps_its_mode(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o640)
    assert runner.invoke(app, ["list", "-o", str(out)]).exit_code == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640 and "list" in out.read_text()


def test_output_preflight_checks_everything_and_leaves_nothing(tmp_path: Path) -> None:
    """check_output_path is what a long run calls first: a name too long for the directory, a
    directory under a file, a special file: all refused before any work; nothing created."""
    from resnet_inspect.errors import UsageError

    plain = tmp_path / "a.txt"
    plain.write_text("x")
    for bad in (str(tmp_path / ("x" * 300 + ".json")), str(plain / "out.json"), os.devnull, ""):
        with pytest.raises(UsageError, match="--output"):
            check_output_path(bad)
    ok = check_output_path(str(tmp_path / ("y" * 250 + ".json")))  # the temporary name is cut to fit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    write_atomic(ok, "done")
    assert ok.read_text() == "done"


# --- 3. linear in the keys; files far from any ResNet refused early ------------------------------
def _old_strip(sd: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The former loop (quadratic in the prefix's length), as the reference for the new one."""
    stripped = ""
    while True:
        prefix = next((p for p in PREFIXES if all(k.startswith(p) for k in sd)), None)
        if prefix is None:
            return stripped, sd
        stripped += prefix
        sd = {k[len(prefix):]: v for k, v in sd.items()}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*PREFIXES, "mod", "x.", "module"]), max_size=4).map("".join),
                min_size=1, max_size=5, unique=True))  # fmt: skip
def test_prefix_stripping_matches_the_former_loop(keys: list[str]) -> None:
    sd = {k + "w": 0 for k in keys}
    assert _strip_prefixes(sd) == _old_strip(sd)


@pytest.mark.parametrize("change", ["none", "missing", "unexpected", "shape", "nested unexpected"])
def test_the_linear_strict_load_agrees_with_torch(change: str) -> None:
    """load_strictly splits the keys by module itself (torch's filtering is quadratic in a
    stage's blocks); it must accept and refuse exactly what load_state_dict does."""
    sd = dict(build_model(resolve(f"resnet18:{TINY}"), "meta").state_dict())
    if change == "missing":
        sd.pop("layer2.1.bn1.running_var")
    elif change == "unexpected":
        sd["head.weight"] = torch.zeros(2, device="meta")
    elif change == "shape":
        sd["fc.weight"] = torch.zeros(7, 64, device="meta")
    elif change == "nested unexpected":
        sd["layer1.0.relu.weight"] = torch.zeros(2, device="meta")
    outcomes = []
    for load in (lambda m: m.load_state_dict(sd, strict=True, assign=True), lambda m: load_strictly(m, sd, assign=True)):
        try:
            load(build_model(resolve(f"resnet18:{TINY}"), "meta"))
            outcomes.append("")
        except RuntimeError as exc:
            outcomes.append(" ".join(ln.strip() for ln in str(exc).splitlines()[1:]))
    assert outcomes[0] == outcomes[1]
    assert bool(outcomes[0]) is (change != "none")


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_more_tensors_than_any_buildable_resnet_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(read_module, "MAX_TENSORS", 10)
    monkeypatch.setattr(read_module, "MAX_FILE_TENSORS", 10)
    path = save(tmp_path / f"many{suffix}", {f"layer1.{i}.conv1.weight": torch.zeros(1) for i in range(11)})
    loaded: list[str] = []
    monkeypatch.setattr(read_module, "_load_torch", lambda *a: loaded.append("torch"))
    monkeypatch.setattr(read_module, "_load_safetensors", lambda *a: loaded.append("safetensors"))
    line = polite(CliRunner().invoke(app, ["identify", str(path)]), codes=(2,))
    assert "11 tensors" in line and "more than the 10 this tool reads" in line
    assert loaded == []  # refused from the file's index, before reading the tensors


def test_identify_refuses_more_blocks_than_the_tool_builds() -> None:
    shapes = dict(TEMPLATES["resnet20"])
    shapes |= {f"layer1.{i}.conv1.weight": (16, 16, 3, 3) for i in range(2001)}
    with pytest.raises(IdentifyError, match=r"2,00\d blocks, more than the 2,000"):
        identify_shapes(shapes)


# --- 4. numbers with a range, checked before the work -------------------------------------------
@pytest.mark.parametrize(("args", "fragment"), [
    (["summary", "--depth", "11"], "--depth 11: must be 1 to 10"),
    (["summary", "--depth", "99999999999999999999"], "--depth"),
    (["flops", "--depth", "0"], "--depth 0"),
    (["diff", "resnet18", "resnet34", "--depth", "2147483648"], "--depth"),
    (["summary", "--layers", "100000"], "100,000 blocks in all; at most 2,000"),
    (["summary", "resnet50:layers=1000,1000,1"], "2,001 blocks"),
    (["summary", "--layers", ",".join(["1"] * 30)], "too large"),  # 30 doubling widths
    (["summary", "--input", "1x3x2147483648x2"], "--input"),
    (["summary", "--widths", "99999999999999999999,64,64,64"], "--widths"),
])  # fmt: skip
def test_huge_numbers_are_one_error_line(runner: CliRunner, args: list[str], fragment: str) -> None:
    line = polite(runner.invoke(app, args), codes=(2,))
    assert fragment in line


def test_a_huge_columns_variable_is_ignored(runner: CliRunner) -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "99999999999"})
    assert result.exit_code == 0 and max(map(len, result.stdout.splitlines())) <= 200


# --- 5. terminals and pipes that cannot take UTF-8 -----------------------------------------------
_EVERY_TABLE = textwrap.dedent("""
    import sys
    from resnet_inspect.cli import app
    for args in {commands!r}:
        try:
            app(args, prog_name="resnet-inspect")
        except SystemExit as exc:
            print(f"exit={{exc.code}}", file=sys.stderr)
""")
_COMMANDS = [["summary", "resnet18", "--depth", "1"], ["flops", "resnet18", "--by", "stage"],
             ["flops", "resnet18", "--by", "operator", "-f", "markdown"], ["diff", "resnet18", "resnet34"],
             ["diff", "resnet18", "resnet34", "-f", "csv"], ["list"], ["list", "-f", "csv"]]  # fmt: skip


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
                                                                  "PYTHONIOENCODING": ""}])  # fmt: skip
def test_every_table_survives_an_ascii_terminal(env: dict[str, str]) -> None:
    """Caught: UnicodeEncodeError from the table borders, the share bars and the Δ headers.
    One process runs every command (its stdout is really ASCII, as the variables make it)."""
    env = {k: v for k, v in {**os.environ, "PYTHONPATH": str(ROOT), **env}.items() if v}
    code = _EVERY_TABLE.format(commands=_COMMANDS)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=300)
    assert result.stderr.decode().splitlines() == ["exit=0"] * len(_COMMANDS), result.stderr.decode()
    out = result.stdout.decode("ascii")  # nothing else in it
    assert "+------" in out and "| Stage" in out  # ASCII boxes, not gone
    assert "25.5% ###......." in out  # the share bars, in ASCII
    assert ",d Params," in out or "d Params" in out  # the delta columns, renamed


def test_check_and_identify_on_an_ascii_terminal(runner: CliRunner, tmp_path: Path) -> None:
    path = save(tmp_path / "w.pth", build_model(resolve("resnet20"), "meta").to_empty(device="cpu").state_dict())
    ascii_runner = CliRunner(charset="ascii")
    for args in (["identify", str(path)], ["check", "resnet20", str(path)], ["check", "resnet18", str(path)]):
        result = ascii_runner.invoke(app, args)
        assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
        result.stdout_bytes.decode("ascii")


# --- 6. lists separated by spaces ----------------------------------------------------------------
@pytest.mark.parametrize(("flag", "value", "field", "expected"), [
    ("--layers", "3 4 6 3", "layers", (3, 4, 6, 3)),
    ("--layers", " 3  4,6 , 3 ", "layers", (3, 4, 6, 3)),
    ("--widths", "64 128 256 512", "widths", (64, 128, 256, 512)),
    ("--dilation", "0 1 1", "replace_stride_with_dilation", (False, True, True)),
])  # fmt: skip
def test_spaces_separate_list_values_and_never_join_digits(
    runner: CliRunner, flag: str, value: str, field: str, expected: tuple[Any, ...]
) -> None:
    """Caught: '3 4 6 3' became one stage of 3,463 blocks, '64 128' became 64128."""
    result = runner.invoke(app, ["summary", flag, value, "-f", "json"])
    assert result.exit_code == 0, result.output
    import json

    assert tuple(json.loads(result.stdout)["spec"][field]) == expected


def test_spaces_separate_list_values_in_spec_strings() -> None:
    assert resolve("resnet50:layers=2 2 2 2,widths=8 16 32 64") == resolve("resnet50:layers=2,2,2,2,widths=8,16,32,64")


# --- 7. escape sequences in key names and file names --------------------------------------------
HOSTILE_KEY = "evil\x1b[31m.red\rweight"


@pytest.fixture()
def hostile(tmp_path: Path) -> Path:
    sd = build_model(resolve("resnet20"), "meta").to_empty(device="cpu").state_dict()
    sd[HOSTILE_KEY] = torch.zeros(1)
    return save(tmp_path / "hostile.safetensors", sd)


def _shown_escaped(text: str) -> None:
    assert "\x1b" not in text and "\r" not in text, repr(text)


def test_escape_sequences_in_keys_are_shown_escaped_in_tables(runner: CliRunner, hostile: Path) -> None:
    for fmt in ("table", "csv", "markdown"):
        result = runner.invoke(app, ["check", "resnet20", str(hostile), "-f", fmt])
        assert result.exit_code == 1
        _shown_escaped(result.output)
        assert "evil\\x1b[31m" in result.stdout and "\\r" in result.stdout


def test_escape_sequences_in_keys_are_shown_escaped_in_errors(runner: CliRunner, hostile: Path, tmp_path: Path) -> None:
    line = polite(runner.invoke(app, ["summary", "resnet20", "--weights", str(hostile)]), codes=(1,))
    _shown_escaped(line)
    assert "evil\\x1b[31m" in line
    other = save(tmp_path / "other.pth", {HOSTILE_KEY: torch.zeros(1), "\x1b]0;title\x07": torch.zeros(1)})
    line = polite(runner.invoke(app, ["identify", str(other)]), codes=(1,))
    _shown_escaped(line)
    assert "\x07" not in line and "not a ResNet" in line


def test_escape_sequences_in_file_names_are_escaped(runner: CliRunner, tmp_path: Path) -> None:
    name = tmp_path / "a\x1b[2Jb.pth"
    line = polite(runner.invoke(app, ["identify", str(name)]), codes=(2,))
    _shown_escaped(line)
    out = tmp_path / "o\x1b[2J.json"
    result = runner.invoke(app, ["list", "-o", str(out)])
    assert result.exit_code == 0
    _shown_escaped(result.stderr)


def test_brackets_in_a_file_name_are_text_not_markup(runner: CliRunner, tmp_path: Path) -> None:
    """The header line quotes the file name; rich read '[red]' in it as a style (and a
    closing tag in it as an error)."""
    path = save(tmp_path / "[red]w.pth", build_model(resolve("resnet20"), "meta").to_empty(device="cpu").state_dict())
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 0, result.output
    assert "[red]w.pth" in result.stdout


def test_printable_escapes_like_repr() -> None:
    assert printable("a\x1b[31mb\rc\u202ed") == "a\\x1b[31mb\\rc\\u202ed"
    assert printable("layer1.0.conv1.weight ü") == "layer1.0.conv1.weight ü"


# --- 8. out of memory is this machine's failure, not the file's ----------------------------------
@pytest.mark.parametrize("error", [
    MemoryError(),
    # a size the file holds (a valid file's storages fit in it): the machine's fault
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                 "you tried to allocate 1024 bytes."),
    OSError(12, "Cannot allocate memory"),
])  # fmt: skip
def test_out_of_memory_while_reading_is_exit_1(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """A real out-of-memory needs a machine without memory; torch's and Python's exceptions
    for it are raised in its place (their messages as torch 2.x and CPython write them)."""
    path = save(tmp_path / "w.pth", build_model(resolve("resnet20"), "meta").to_empty(device="cpu").state_dict())

    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(torch, "load", no_memory)
    line = polite(runner.invoke(app, ["identify", str(path)]), codes=(1,))
    assert "out of memory" in line and "corrupt" not in line


# --- 9. an empty --input is malformed, not the default -------------------------------------------
@pytest.mark.parametrize("command", [["summary"], ["flops"], ["diff", "resnet18", "resnet34"]])
def test_an_empty_input_is_bad_input(runner: CliRunner, command: list[str]) -> None:
    line = polite(runner.invoke(app, [*command, "--input", ""]), codes=(2,))
    assert "--input ''" in line


def test_comparison_of_nonsense_shapes_sorts_every_key() -> None:
    r = compare_shapes({"a": (1,), "b": (2, 2)}, {"a": (), "b": (2, 0), "c": (0,)})
    assert [m.key for m in r.mismatched] == ["a", "b"] and r.unexpected == ("c",)


def test_reading_checks_the_file_before_opening_it(tmp_path: Path) -> None:
    from resnet_inspect.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="is a directory"):
        read_checkpoint(tmp_path)


def _old_group(status: dict[str, str], key: str) -> str:
    """check's former grouping (every key against every other), the reference for the new."""
    parts = key.split(".")
    for n in range(1, len(parts)):
        prefix = ".".join(parts[:n]) + "."
        if all(v == status[key] for k, v in status.items() if k.startswith(prefix)):
            return prefix[:-1]
    return key.rpartition(".")[0]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.lists(st.sampled_from(["layer1", "0", "1", "bn1", "conv1", "weight", ""]), min_size=1,
                                max_size=4).map(".".join),
                       st.sampled_from(["match", "missing", "unexpected"]), min_size=1, max_size=12))  # fmt: skip
def test_check_groups_tensors_as_the_former_loop_did(status: dict[str, str]) -> None:
    from resnet_inspect.report.checkpoint import _group, _prefix_statuses

    shared = _prefix_statuses(status)
    assert all(_group(status, k, shared) == _old_group(status, k) for k in status)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_file_names_that_are_not_utf8_are_read_and_written(runner: CliRunner, tmp_path: Path, suffix: str) -> None:
    """A latin-1 name (bytes 0xff) is a valid Linux file name; torch's and safetensors' readers
    encode names as UTF-8 and failed on it, blaming the file ("corrupt?")."""
    good = save(tmp_path / f"good{suffix}", build_model(resolve("resnet20"), "meta").to_empty(device="cpu").state_dict())
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/w\xff" + suffix.encode()))
    odd.write_bytes(good.read_bytes())
    out = Path(os.fsdecode(bytes(tmp_path) + b"/o\xff.md"))
    result = runner.invoke(app, ["identify", str(odd), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "resnet20" in out.read_text() and "\\udcff" in result.stderr


def test_a_file_that_asks_for_more_memory_than_it_holds_is_corrupt(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A legacy torch file allocates each storage at the size its pickle declares before
    reading it from the file: a declared size beyond the file's is the file's fault (exit 2)."""
    path = save(tmp_path / "w.pth", {"fc.weight": torch.zeros(2)})

    def declared_huge(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                           "1125899906842624 bytes. Error code 12 (Cannot allocate memory)")  # fmt: skip

    monkeypatch.setattr(torch, "load", declared_huge)
    line = polite(runner.invoke(app, ["identify", str(path)]), codes=(2,))
    assert "1,125,899,906,842,624 bytes" in line and "truncated or corrupt" in line
