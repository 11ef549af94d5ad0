"""The Typer app: its error handling (one line, an exit code), the argument-to-flag mapping,
the help's examples, and main()."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..collector import collector_paused
from ..errors import InspectError, RuntimeFailure
from ..render import (
    can_encode,
    to_ascii,
)
from ..units import printable
from .coercion import coerce_natively
from .process import (
    check_working_folder,
    discard_stdout,
    drop_insane_columns,
    guard_streams,
    notice,
    user_output_to_stderr,
    writing_stdout,
)

ARCH_PANEL = "Architecture (override any preset field)"



# commands that may run for minutes and make cyclic garbage all along (torch.compile's
# tracing): the cycle collector keeps running for these
LONG_LIVED = frozenset({"bench"})


def _short_lived(argv: list[str]) -> bool:
    """Whether the command (the first word that is not an option) ends within seconds: then
    Python's cycle collector pauses for it, torch's import included (a fifth of a cold
    ``summary``: see resnet_inspect/collector.py)."""
    return next((a for a in argv if not a.startswith("-")), "") not in LONG_LIVED


def _click_exception_type() -> type[Exception]:
    # typer vendors click in recent releases and uses the real click in older ones; find its
    # ClickException through a class typer exports either way.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(TyperGroup):
    """Turns every error into ``error: ...`` on stderr with exit code 2 (bad input) or 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        _SHOW_TRACEBACK[0] = False  # per invocation (tests run many in one process)
        click_error = _click_exception_type()
        guard_streams()
        drop_insane_columns()
        argv = list(args[0] if args and args[0] is not None else sys.argv[1:])
        try:
            check_working_folder()
            with collector_paused() if _short_lived(argv) else contextlib.nullcontext():
                code = super().main(*args, **kwargs)
            with writing_stdout():  # what print left in the buffer (the version, the help)
                pass
        except InspectError as exc:
            user_tb = getattr(exc, "user_traceback", "")
            if _SHOW_TRACEBACK[0] and user_tb:
                notice(user_tb.rstrip("\n"))
            _fail(in_flag_terms(exc), exc.exit_code)
        except click_error as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: the help was the answer
                sys.exit(0)
            _fail(exc.format_message(), getattr(exc, "exit_code", 2))  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except MemoryError:  # anywhere: this machine's failure, said in one line
            _fail("out of memory", 1)
        except BrokenPipeError:  # the reader left: nothing to say, and nobody to say it to
            discard_stdout()  # else Python's flush at exit prints "Exception ignored"
            sys.exit(1)
        except OSError as exc:  # typer's or rich's write (the help) to a full or closed stdout, or
            _fail(os_error_text(exc), 1)  # an OS error nothing below named
        if isinstance(code, int) and code:
            sys.exit(code)
        if "Abort" in type(code).__name__:
            sys.exit(1)
        sys.exit(0)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coerce_natively(self.get_params(ctx))  # no pydantic for plain values (see coercion.py)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """The command itself: what the user's code (or a library) raises that is not an
        Exception becomes one: typer would turn Ctrl-C into a silent exit 130, and a
        SystemExit from a model's forward into the model's exit status."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        except Exception:
            raise
        except BaseException as exc:  # SystemExit, GeneratorExit, ... from code not ours
            if _reader_left(exc):
                raise BrokenPipeError from None
            raise RuntimeFailure(escaped_base_exception(exc)) from None


class _Command(TyperCommand):
    """Every command runs with the user's output on stderr: a model file that prints while it
    is imported, built or run leaves stdout to the command's output (``-f json`` parses). The
    parsing and the help come first, on the real stdout."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coerce_natively(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        with user_output_to_stderr():
            return super().invoke(ctx)


class _App(typer.Typer):
    """The app, whose commands are :class:`_Command` unless one asks for another class."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


_SHOW_TRACEBACK = [False]  # set by --traceback: a user's code failing shows its own traceback


# the library's arguments, and the flags that set them
ARGUMENT_FLAGS = {
    "input_shape": "--input", "dtype": "--dtype", "batches": "--batch", "device": "--device",
    "precision": "--dtype", "amp": "--amp", "warmup_s": "--warmup", "min_time_s": "--min-time",
    "threads": "--threads", "weights": "--weights", "columns": "--columns", "mode": "--mode",
    "top": "--top", "breakdown": "--breakdown", "family": "--family", "reference": "--reference",
}  # fmt: skip


def in_flag_terms(exc: InspectError) -> str:
    """A library error names the arguments (``warmup_s``, ``input_shape``); a user typed
    flags (``--warmup``, ``--input``). Renamed where the error's own words name them: up to
    its first quoted value or parenthesis, after which it quotes a file name or torch."""
    text = str(exc)
    if exc.subject not in ARGUMENT_FLAGS:
        return text
    cut = min((i for i in (text.find("'"), text.find("(")) if i >= 0), default=len(text))
    own = re.sub(r"\w+", lambda word: ARGUMENT_FLAGS.get(word[0], word[0]), text[:cut])
    return own + text[cut:]


def _fail(message: str, code: int) -> None:
    # one line; control characters that came from a file (a key, a name) escaped, not obeyed
    first = " ".join(printable(word) for word in message.strip().split())
    if not can_encode(sys.stderr, first):
        first = to_ascii(first)
    notice(f"error: {first}")
    sys.exit(code)


class Interrupted(RuntimeFailure):
    """Ctrl-C, or a KeyboardInterrupt from the user's code: exit 130 (128 + SIGINT), as a
    shell reports it."""

    exit_code = 130


def _reader_left(exc: BaseException) -> bool:
    """rich's answer to a closed pipe (``Console.on_broken_pipe``: stdout sent to devnull, then
    ``SystemExit(1)``), as when ``summary --help | head -2`` leaves early: not the user's code
    ending the command, but a reader that left."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return (isinstance(exc, SystemExit) and tb is not None
            and tb.tb_frame.f_code.co_name == "on_broken_pipe"
            and tb.tb_frame.f_globals.get("__name__") == "rich.console")  # fmt: skip


def escaped_base_exception(exc: BaseException) -> str:
    """``SystemExit(0) raised at my_resnet.py:12``: what ended the command, and where (the
    innermost frame: the code that raised it)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" raised at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""
    args = exc.code if isinstance(exc, SystemExit) else str(exc) or None
    shown = f"{type(exc).__name__}({args!r})" if args is not None else type(exc).__name__
    return f"{shown}{where} ended the command"


def os_error_text(exc: OSError) -> str:
    """``x.pth: Permission denied`` where the error names a file; without one it was a write
    to a standard stream that failed, and stdout's leftovers are dropped (see discard_stdout)."""
    text = exc.strerror or str(exc)
    name = exc.filename
    if name:
        return f"{os.fsdecode(name) if isinstance(name, (str, bytes)) else name}: {text}"
    discard_stdout()
    return f"cannot write the output: {text}"


app = _App(
    cls=_Group,
    name="resnet-inspect",
    help="Build any ResNet variant from flags, then inspect, count, compare and time it.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        with writing_stdout():
            print(f"resnet-inspect {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, metavar="",
                     help="Show the version."),
    ] = None,
) -> None:
    """Build any ResNet variant from flags, then inspect, count, compare and time it."""



# --- commands ------------------------------------------------------------------------------------
EXAMPLES = {
    "summary": ("resnet-inspect summary resnet50",
                "resnet-inspect summary resnet18 --depth 3 --input 1x3x64x64",
                "resnet-inspect summary resnet50:groups=32,width_per_group=4 -o r50.json"),
    "list": ("resnet-inspect list", "resnet-inspect list -f csv -o presets.csv"),
    "flops": ("resnet-inspect flops resnet18 --by stage",
              "resnet-inspect flops resnet152 --input 256x3x1024x1024 --by operator",
              "resnet-inspect flops resnet20 --counter fvcore"),
    "diff": ("resnet-inspect diff resnet50 resnet50:stride_in=1x1 --only-changed",
             "resnet-inspect diff resnet18 resnet34 --depth 3",
             "resnet-inspect diff resnet50 resnext50_32x4d --exit-code"),
    "check": ("resnet-inspect check resnet50 weights.pth",
              "resnet-inspect check resnet50d model.safetensors --num-classes 10 --all"),
    "identify": ("resnet-inspect identify weights.pth", "resnet-inspect identify ckpt.pth -f json"),
    "convert": ("resnet-inspect convert weights.pth --to hf -o model.safetensors",
                "resnet-inspect convert model.h5 --to timm -o resnet50.pth -f json"),
    "bench": ("resnet-inspect bench resnet18 resnet50 --batch 1,8 --min-time 1",
              "resnet-inspect bench resnet50 --device cuda --dtype bf16 --channels-last --batch 64,256",
              "resnet-inspect bench resnet50 --breakdown -o bench.json"),
}


def examples(command: str, before: str = "") -> str:
    """A command's help epilog: what it states (``before``), then two or three real uses."""
    lines = "\n\n".join(f"  {e}" for e in EXAMPLES[command])
    return (before + "\n\n" if before else "") + f"[bold]Examples[/bold]\n\n{lines}"


def main() -> None:
    with _only_the_command_named(sys.argv[1:2]):
        app()


@contextlib.contextmanager
def _only_the_command_named(first: list[str]) -> Iterator[None]:
    """While the line starts with a command's name, the app holds that command alone: typer
    builds every registered command before parsing (about 10 ms of a cold start for the seven
    that will not run). Anything else (the group's help or options first, an unknown name, a
    shell's completion) sees them all."""
    commands = app.registered_commands
    named = [c for c in commands if first and _command_name(c) == first[0]]
    if len(named) != 1 or any(key.endswith("_COMPLETE") for key in os.environ):
        yield
        return
    app.registered_commands = named
    try:
        yield
    finally:
        app.registered_commands = commands


def _command_name(info: Any) -> str | None:
    """A registered command's name, as typer derives it from the function where none is given."""
    from typer.main import get_command_name  # typer's own rule (typer.main is loaded already)

    callback = getattr(info, "callback", None)
    return info.name or (get_command_name(callback.__name__) if callback else None)
