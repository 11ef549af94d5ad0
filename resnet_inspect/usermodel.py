"""ARCH as the user's own code: ``my_resnet.py:ResNet50``, ``models.resnet:build(num_classes=10)``.

The part before the colon is a Python file or a dotted module name; after it, an ``nn.Module``
subclass or a function that returns one, with optional arguments written as Python literals
(read with ``ast.literal_eval``: never evaluated as code). The file itself *is* run, as
``python`` would import it: that is how a module comes to exist. The model is built on the meta
device where its constructor allows (no memory, no arithmetic), else on the CPU.

Every way the user's code can fail (no such file, a syntax error, an import error inside it, a
missing name, a constructor that raises, something that is not a module) is one
:class:`UserCodeError`: one line naming the file and the cause, with the user's own traceback
kept apart for ``--traceback``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import stat
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .spec import PRESETS
from .units import file_kind

if TYPE_CHECKING:
    from torch import nn

# "source:Name" or "source:Name(literal arguments)"; source is a file (x.py, a/b.py) or a module
_USER_CODE = re.compile(r"^\s*(?P<source>[^:()=,\s][^:()=,]*?)\s*:\s*(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
                        r"\s*(?P<args>\(.*\))?\s*$", re.S)  # fmt: skip
_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_PACKAGE_DIR = Path(__file__).resolve().parent


class UserCodeError(SpecError):
    """The user's code could not be loaded or built. ``user_traceback``: the user's own frames
    (empty where the failure is ours to describe, e.g. a missing file)."""

    def __init__(self, message: str, user_traceback: str = "") -> None:
        super().__init__(message, subject="arch")
        self.user_traceback = user_traceback


@dataclass(frozen=True)
class UserModel:
    """Where the user's model comes from, as written on the command line."""

    text: str  # as typed: "my_resnet.py:ResNet50(num_classes=10)"
    source: str  # "my_resnet.py" or "models.resnet"
    name: str  # "ResNet50", or "sub.Name" for an attribute of an attribute
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def is_file(self) -> bool:
        return self.source.endswith(".py") or "/" in self.source or "\\" in self.source

    @property
    def label(self) -> str:
        return self.text.strip()

    in_chans = 3  # unknown until traced; the default input is ImageNet's

    def __hash__(self) -> int:  # arguments may be lists: the text says it all
        return hash(self.text)

    def default_input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, 224, 224)


def is_user_code(text: str | None) -> bool:
    """Whether ARCH names user code rather than a preset or spec string (``resnet50:groups=32``
    has ``=`` after the colon; ``my_resnet.py:ResNet50`` has a name)."""
    if not text:
        return False
    m = _USER_CODE.match(text)
    if m is None:
        return False
    source = m["source"]
    return source.endswith(".py") or "/" in source or (bool(_DOTTED.match(source)) and source not in PRESETS)


def shown(text: str, quote: bool = True, limit: int = 120) -> str:
    """What the user typed (quoted), cut in the middle where it is long: an argument of 100,000
    brackets or a 300-character file name belongs in no error line whole."""
    if len(text) > limit:
        text = f"{text[:limit // 2]}...{text[-limit // 2:]} ({len(text):,} characters)"
    return repr(text) if quote else text


def parse_user_code(text: str) -> UserModel:
    """``"x.py:Net(num_classes=10)"`` -> UserModel; arguments must be Python literals."""
    m = _USER_CODE.match(text)
    if m is None or not is_user_code(text):
        raise UserCodeError(f"{shown(text)}: expected FILE.py:NAME or module.path:NAME, optionally "
                            "with literal arguments: my_resnet.py:ResNet50(num_classes=10)")  # fmt: skip
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    if m["args"]:
        args, kwargs = _literal_arguments(m["args"], text)
    return UserModel(text.strip(), m["source"], m["name"], args, kwargs)


def _literal_arguments(call: str, text: str) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    try:
        node = ast.parse("f" + call, mode="eval").body
    except SyntaxError as exc:  # too many nested parentheses (200) is one too
        raise UserCodeError(f"{shown(text)}: cannot parse the arguments {shown(call, quote=False)}: {exc.msg}") from None
    except (MemoryError, RecursionError):  # Python's parser on deep nesting (- - - ... 1)
        raise UserCodeError(f"{shown(text)}: the arguments are nested too deeply to parse") from None
    if not isinstance(node, ast.Call) or any(k.arg is None for k in node.keywords):
        raise UserCodeError(f"{shown(text)}: cannot parse the arguments {shown(call, quote=False)}")
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = tuple((str(k.arg), ast.literal_eval(k.value)) for k in node.keywords)
    except (ValueError, MemoryError, RecursionError):
        raise UserCodeError(f"{shown(text)}: arguments must be Python literals (numbers, strings, "
                            "tuples, lists, dicts, True/False/None)") from None  # fmt: skip
    return args, kwargs


# --- importing -------------------------------------------------------------------------------
_IMPORTED: dict[str, ModuleType] = {}


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """Skip the frames of this package and of importlib: the user sees their own."""
    while tb is not None:
        filename = Path(tb.tb_frame.f_code.co_filename)
        ours = _PACKAGE_DIR in filename.resolve().parents if filename.is_absolute() else False
        if not (ours or "importlib" in filename.parts or filename.name.startswith("<frozen")):
            return tb
        tb = tb.tb_next
    return None


def user_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)))


def first_line(exc: BaseException) -> str:
    """``Type: message``'s first line, control characters (terminal escapes) made visible."""
    text = str(exc).strip().splitlines()
    first = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[0]) if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def import_source(user: UserModel) -> ModuleType:
    """Import the file or module as Python would (its folder, or the current one, on sys.path
    first, so that its own imports work); once per process."""
    if user.is_file:
        _check_regular_file(user.source)
    key = str(Path(user.source).resolve()) if user.is_file else user.source
    if key in _IMPORTED:
        return _IMPORTED[key]
    where = Path(user.source).resolve().parent if user.is_file else Path.cwd()
    sys.path.insert(0, str(where))
    try:
        module = _import_file(user) if user.is_file else _import_module(user)
    finally:
        sys.path.remove(str(where))
    _IMPORTED[key] = module
    return module


def _check_regular_file(source: str) -> None:
    """A Python file that can be read: a name over the system's limit is an error of its own
    (``Path.is_file`` raises it), and a FIFO would block the import until a writer came."""
    try:
        mode = os.stat(source).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise UserCodeError(f"{shown(source, quote=False)}: no such file") from None
    except OSError as exc:  # File name too long, Permission denied, Too many levels of links
        raise UserCodeError(f"{shown(source, quote=False)}: cannot be read: {exc.strerror}") from None
    except ValueError:  # a NUL in the name
        raise UserCodeError(f"{shown(source, quote=False)}: not a valid file name") from None
    if not stat.S_ISREG(mode):
        raise UserCodeError(f"{shown(source, quote=False)}: is {file_kind(mode)}, not a Python file")


def _import_file(user: UserModel) -> ModuleType:
    path = Path(user.source)
    # its own name, as Python would (dataclasses and pickling look it up), unless a module of
    # that name is already loaded: a file called typing.py must not replace typing here
    name = path.stem if path.stem not in sys.modules else f"_resnet_inspect_user_.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserCodeError(f"{user.source}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        raise _import_failure(user, exc) from None
    return module


def _import_module(user: UserModel) -> ModuleType:
    try:
        return importlib.import_module(user.source)
    except ModuleNotFoundError as exc:
        if exc.name and user.source.split(".")[0] == exc.name.split(".")[0] and user.source.startswith(exc.name):
            raise UserCodeError(f"{user.source}: no module named {exc.name!r} (looked in the "
                                f"current folder and sys.path)") from None  # fmt: skip
        raise _import_failure(user, exc) from None
    except BaseException as exc:
        raise _import_failure(user, exc) from None


def _import_failure(user: UserModel, exc: BaseException) -> UserCodeError:
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    if isinstance(exc, SyntaxError):
        where = f"{Path(exc.filename).name if exc.filename else user.source}:{exc.lineno}"
        return UserCodeError(f"{user.source}: syntax error at {where}: {exc.msg}", user_traceback(exc))
    if isinstance(exc, ImportError):
        return UserCodeError(f"{user.source}: an import inside it failed: {first_line(exc)}",
                             user_traceback(exc))  # fmt: skip
    return UserCodeError(f"{user.source}: raised {first_line(exc)} while being imported",
                         user_traceback(exc))  # fmt: skip


def find_factory(user: UserModel) -> Any:
    """The class or function ``user.name`` names in its module."""
    obj: Any = import_source(user)
    for part in user.name.split("."):
        if not hasattr(obj, part):
            defined = [n for n, v in vars(import_source(user)).items()
                       if not n.startswith("_") and callable(v) and getattr(v, "__module__", None)
                       == import_source(user).__name__]  # fmt: skip
            listing = f" (it defines: {', '.join(defined)})" if defined else ""
            raise UserCodeError(f"{user.source}: has no {user.name!r}{listing}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserCodeError(f"{user.source}: {user.name} is a {type(obj).__name__}, not an "
                            "nn.Module subclass or a function that returns one")  # fmt: skip
    return obj


# --- building ----------------------------------------------------------------------------------
def build_user_model(user: UserModel, device: str = "meta") -> nn.Module:
    """Build the user's model: on ``device``; for "meta", on the CPU where the constructor
    cannot run on meta (it reads values, loads a file, ...)."""
    import torch

    factory = find_factory(user)
    if device == "meta":
        try:
            with torch.device("meta"):
                return _checked(user, factory(*user.args, **dict(user.kwargs)))
        except (UserCodeError, KeyboardInterrupt):
            raise
        except BaseException:  # the user's constructor may raise anything on meta
            pass  # try again for real, on the CPU; its error is the one reported
    try:
        model = factory(*user.args, **dict(user.kwargs))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's code: SystemExit and GeneratorExit too
        raise UserCodeError(f"{user.source}: {user.name}{_call_text(user)} raised "
                            f"{first_line(exc)}", user_traceback(exc)) from None  # fmt: skip
    return _checked(user, model).to(device) if device not in ("cpu", "meta") else _checked(user, model)


def _checked(user: UserModel, model: Any) -> nn.Module:
    from torch import nn

    if not isinstance(model, nn.Module):
        raise UserCodeError(f"{user.source}: {user.name}{_call_text(user)} returned a "
                            f"{type(model).__name__}, not an nn.Module")  # fmt: skip
    return model


def _call_text(user: UserModel) -> str:
    parts = [repr(a) for a in user.args] + [f"{k}={v!r}" for k, v in user.kwargs]
    return "(" + ", ".join(parts) + ")"


def model_device(model: nn.Module) -> str:
    """Where a built model lives: meta unless its constructor could not run there."""
    for tensor in (*model.parameters(), *model.buffers()):
        return str(tensor.device)
    return "meta"
