"""ARCH as the user's own code: ``my_resnet.py:ResNet50``, ``models.resnet:build(num_classes=10)``,
``seed.py:resnet`` (a module-level instance), ``seed.py:ResNet(Bottleneck, [3, 4, 6, 3], 1000)``.

The part before the colon is a Python file or a dotted module name; after it, an ``nn.Module``
subclass or a function that returns one, with optional arguments, or an ``nn.Module`` instance
the file made at import (used as it is, never called). The arguments are Python literals and
names the file defines or imports (``Bottleneck``, ``blocks.Bottleneck``, inside lists, tuples
and dicts too): read with ``ast``, never evaluated; a name is looked up in the imported module,
nothing else. The file itself *is* run, as ``python`` would import it: that is how a module
comes to exist. The model is built on the meta device where its constructor allows (no memory,
no arithmetic), else on the CPU. An instance is never handed out itself: every build is a copy
(on meta: no values copied), so that nothing the caller does (load weights, move, compile)
reaches the user's object.

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
    args: tuple[Any, ...] = ()  # literals, and NameRef where the text names something in the file
    kwargs: tuple[tuple[str, Any], ...] = ()
    called: bool = False  # parentheses were given, empty or not: "Net()" is a call, "net" is not

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


@dataclass(frozen=True)
class NameRef:
    """A name written in the arguments (``Bottleneck``, ``blocks.Bottleneck``): looked up in the
    user's module when the model is built, never evaluated."""

    name: str

    def __repr__(self) -> str:  # as it was written: the error lines quote the call back
        return self.name


def parse_user_code(text: str) -> UserModel:
    """``"x.py:Net(Block, [2, 2], num_classes=10)"`` -> UserModel; the arguments are literals
    and names (looked up when the model is built)."""
    m = _USER_CODE.match(text)
    if m is None or not is_user_code(text):
        raise UserCodeError(f"{shown(text)}: expected FILE.py:NAME or module.path:NAME, optionally "
                            "with arguments: my_resnet.py:ResNet50(num_classes=10)")  # fmt: skip
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    if m["args"]:
        args, kwargs = _arguments(m["args"], text, m["source"])
    return UserModel(text.strip(), m["source"], m["name"], args, kwargs, called=bool(m["args"]))


_ALLOWED = "literals (numbers, strings, tuples, lists, dicts, True/False/None) and names defined in"
_REFUSED = ((ast.Call, "a call"), (ast.Subscript, "a subscript"),
            ((ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare), "an operation"))  # fmt: skip


def _arguments(call: str, text: str, source: str) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    try:
        node = ast.parse("f" + call, mode="eval").body
    except SyntaxError as exc:  # too many nested parentheses (200) is one too
        raise UserCodeError(f"{shown(text)}: cannot parse the arguments {shown(call, quote=False)}: {exc.msg}") from None
    except (MemoryError, RecursionError):  # Python's parser on deep nesting (- - - ... 1)
        raise UserCodeError(f"{shown(text)}: the arguments are nested too deeply to parse") from None
    if not isinstance(node, ast.Call) or any(k.arg is None for k in node.keywords):
        raise UserCodeError(f"{shown(text)}: cannot parse the arguments {shown(call, quote=False)}")
    where = _Where(text, source, "f" + call)
    try:
        args = tuple(_argument(a, where) for a in node.args)
        kwargs = tuple((str(k.arg), _argument(k.value, where)) for k in node.keywords)
    except (MemoryError, RecursionError):
        raise UserCodeError(f"{shown(text)}: the arguments are nested too deeply to read") from None
    except TypeError as exc:  # a list as a dict key or in a set: {[1]: 2}
        raise UserCodeError(f"{shown(text)}: cannot read the arguments: {exc}") from None
    return args, kwargs


@dataclass(frozen=True)
class _Where:
    text: str  # ARCH as typed, for the error line
    source: str  # the file or module, where names are looked up
    code: str  # what was parsed: "f(...)", for the offending argument's own text


def _argument(node: ast.expr, where: _Where) -> Any:
    """One argument as a value: names become NameRef, containers are walked, the rest must be
    what ``ast.literal_eval`` reads (``-1``, ``1e-5``, ``2+3j``); anything else is refused."""
    name = _dotted_name(node)
    if name is not None:
        return NameRef(name)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not any(isinstance(e, ast.Starred) for e in node.elts):
        items = [_argument(e, where) for e in node.elts]
        return list(items) if isinstance(node, ast.List) else tuple(items) if isinstance(node, ast.Tuple) else set(items)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):  # not {**other}
        return {_argument(k, where): _argument(v, where) for k, v in zip(node.keys, node.values, strict=True)
                if k is not None}  # fmt: skip
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        base = node
        while isinstance(base, ast.Attribute):  # f().x is a call, [1].y a list: said by what it is on
            base = base.value
        what = next((w for kinds, w in _REFUSED if isinstance(base, kinds)), "not a literal or a name")
        written = ast.get_source_segment(where.code, node) or type(node).__name__
        raise UserCodeError(f"{shown(where.text)}: {shown(written, limit=60)} is {what}; arguments are "
                            f"{_ALLOWED} {where.source}, never evaluated") from None  # fmt: skip


def _dotted_name(node: ast.expr) -> str | None:
    """``a.b.C`` for a name or a chain of attributes on one, else None (``f().x``, ``[1].y``)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


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


def find_object(user: UserModel) -> Any:
    """What ``user.name`` names in its module: a class, a function, or an nn.Module instance."""
    from torch import nn

    obj = _look_up(user, user.name, "")
    if not callable(obj):
        raise UserCodeError(f"{user.source}: {user.name} is a {type(obj).__name__}, not an nn.Module "
                            "subclass, a function that returns one, or an nn.Module instance")  # fmt: skip
    if isinstance(obj, nn.Module) and user.called:
        raise UserCodeError(f"{user.source}: {user.name} is an nn.Module instance ({type(obj).__name__}), used "
                            f"as it is: give it without arguments ({user.source}:{user.name})")  # fmt: skip
    return obj


def _look_up(user: UserModel, name: str, where: str) -> Any:
    """``name`` (dotted: ``blocks.Bottleneck``) in the user's module, attribute by attribute."""
    module = import_source(user)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            listing = f"it defines: {', '.join(defined_names(module))}" if defined_names(module) else ""
            said = "; ".join(w for w in (where, listing) if w)
            raise UserCodeError(f"{user.source}: has no {name!r}" + (f" ({said})" if said else ""))
        obj = getattr(obj, part)
    return obj


def defined_names(module: ModuleType) -> list[str]:
    """The classes and functions the file defines, and the nn.Module instances it made."""
    nn = sys.modules.get("torch.nn")
    return [n for n, v in vars(module).items() if not n.startswith("_") and (
            (callable(v) and getattr(v, "__module__", None) == module.__name__)
            or (nn is not None and isinstance(v, nn.Module)))]  # fmt: skip


def _resolved(user: UserModel, value: Any) -> Any:
    """An argument with every NameRef looked up in the user's module (inside containers too)."""
    if isinstance(value, NameRef):
        return _look_up(user, value.name, f"named in the arguments of {user.name}")
    if isinstance(value, (list, tuple, set)):
        return type(value)(_resolved(user, v) for v in value)
    if isinstance(value, dict):
        return {_resolved(user, k): _resolved(user, v) for k, v in value.items()}
    return value


# --- building ----------------------------------------------------------------------------------
def build_user_model(user: UserModel, device: str = "meta") -> nn.Module:
    """Build the user's model: on ``device``; for "meta", on the CPU where the constructor
    cannot run on meta (it reads values, loads a file, ...). An instance is copied (see
    :func:`copy_instance`)."""
    import torch
    from torch import nn

    obj = find_object(user)
    if isinstance(obj, nn.Module):
        return copy_instance(user, obj, device)
    args = tuple(_resolved(user, a) for a in user.args)
    kwargs = {k: _resolved(user, v) for k, v in user.kwargs}
    if device == "meta":
        try:
            with torch.device("meta"):
                return _checked(user, obj(*args, **kwargs))
        except (UserCodeError, KeyboardInterrupt):
            raise
        except BaseException:  # the user's constructor may raise anything on meta
            pass  # try again for real, on the CPU; its error is the one reported
    try:
        model = obj(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's code: SystemExit and GeneratorExit too
        raise UserCodeError(f"{user.source}: {user.name}{_call_text(user)} raised "
                            f"{first_line(exc)}", user_traceback(exc)) from None  # fmt: skip
    return _checked(user, model).to(device) if device not in ("cpu", "meta") else _checked(user, model)


def copy_instance(user: UserModel, model: nn.Module, device: str) -> nn.Module:
    """A copy of the user's module-level instance on ``device``, never the object itself: the
    caller may trace it, load weights into it, convert or compile it, and the user (or the API
    caller) may hold it. Parameters and buffers are copied straight to ``device`` (to meta: no
    values at all); the rest of the module is deep-copied."""
    import copy

    from torch import nn

    memo: dict[int, Any] = {}
    try:
        for tensor in (*model.parameters(), *model.buffers()):
            moved = tensor.detach().to(device, copy=True)
            memo[id(tensor)] = nn.Parameter(moved, tensor.requires_grad) if isinstance(tensor, nn.Parameter) else moved
        return copy.deepcopy(model, memo)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a lock or an open file among its attributes, a meta tensor to the CPU
        raise UserCodeError(f"{user.source}: {user.name} (an nn.Module instance) cannot be copied to "
                            f"{device}: {first_line(exc)}; define a function that builds it and "
                            "name that instead", user_traceback(exc)) from None  # fmt: skip


def _checked(user: UserModel, model: Any) -> nn.Module:
    from torch import nn

    if not isinstance(model, nn.Module):
        raise UserCodeError(f"{user.source}: {user.name}{_call_text(user)} returned a "
                            f"{type(model).__name__}, not an nn.Module")  # fmt: skip
    return model


def _call_text(user: UserModel) -> str:
    """The arguments as written, names as names (NameRef's repr)."""
    parts = [repr(a) for a in user.args] + [f"{k}={v!r}" for k, v in user.kwargs]
    return "(" + ", ".join(parts) + ")"


def model_device(model: nn.Module) -> str:
    """Where a built model lives: meta unless its constructor could not run there."""
    for tensor in (*model.parameters(), *model.buffers()):
        return str(tensor.device)
    return "meta"
