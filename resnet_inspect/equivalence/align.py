"""Two models aligned by what their forward passes compute, not by their names.

A model's *parametrised calls* are the calls of its modules that hold tensors of their own
(parameters or buffers: a conv, a norm, a linear), in the order its forward runs them (a
module called twice appears twice; of two independent branches, the longer first, see
:func:`canonical`), each with its kind (the torch class it is) and the shapes
of its tensors. They are read by hooks on one pass, on the meta device where the model is
there. Everything else, parameter-free modules (``nn.ReLU``), functional calls (``F.relu``,
``torch.flatten``, ``x.view``) and how the modules are named and nested, leaves the sequence
unchanged: a renamed, re-nested copy has the same one. (Hugging Face's ResNet conversion
scripts port checkpoints the same way, by tracing both models' parametrised leaves in order.)

:func:`align` pairs two sequences position by position: same length, same kinds, same weight
shapes; an extra tensor on one side (a conv's bias) is allowed and recorded. Where they
cannot be paired, :class:`Unaligned` says where they part. Containers are then mapped too: a
module of B maps to the module of A whose aligned parametrised modules are exactly its own.

    >>> result = align(reference, mine, (1, 3, 64, 64))      # doctest: +SKIP
    >>> result.modules["body.0.0"]                           # doctest: +SKIP
    'layer1.0'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Call:
    """One call of a module that holds tensors of its own."""

    name: str  # the module's name in its model ("" for the model itself)
    kind: str  # the torch class it is or derives from: "Conv2d", "BatchNorm2d", "Linear"
    tensors: tuple[tuple[str, Shape], ...]  # its own parameters and buffers, in order

    @property
    def weight(self) -> Shape | None:
        """What a call is matched by: the weight's shape (else every tensor's, for a module
        without one)."""
        own = dict(self.tensors)
        return own.get("weight")

    def matches(self, other: Call) -> bool:
        if self.kind != other.kind:
            return False
        if self.weight is not None or other.weight is not None:
            return self.weight == other.weight
        return self.tensors == other.tensors

    def text(self) -> str:
        shape = self.weight or (self.tensors[0][1] if self.tensors else ())
        return (
            f"{self.name or '(the model)'} ({self.kind}, weight {'x'.join(map(str, shape)) or '-'})"
        )


@dataclass(frozen=True)
class Pair:
    """The i-th parametrised call of each model; ``extra_a`` / ``extra_b``: tensors only that
    side's module has (a bias the other lacks)."""

    index: int
    a: Call
    b: Call
    extra_a: tuple[str, ...] = ()
    extra_b: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unaligned:
    """Why two models cannot be aligned, and where their sequences part."""

    reason: str
    index: int | None = None  # the first position that differs (0-based), if any
    a: Call | None = None
    b: Call | None = None


@dataclass(frozen=True)
class Alignment:
    """``pairs``: the parametrised calls, paired in order; ``modules``: B's module name ->
    A's, for every paired module and every container whose aligned modules are exactly one
    A module's ("" -> "" for the models themselves); ``unaligned``: None when aligned."""

    a_calls: tuple[Call, ...]
    b_calls: tuple[Call, ...]
    pairs: tuple[Pair, ...] = ()
    modules: dict[str, str] = field(default_factory=dict)
    unaligned: Unaligned | None = None
    uncalled_a: tuple[str, ...] = ()  # modules with tensors the pass never called
    uncalled_b: tuple[str, ...] = ()

    @property
    def aligned(self) -> bool:
        return self.unaligned is None


# --- the sequence ---------------------------------------------------------------------------------
def kind(module: nn.Module) -> str:
    """The torch class a module is or derives from (a subclass of ``nn.Conv2d`` is a
    "Conv2d"); a class of the user's own that derives from none: its own name."""
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn.modules") and cls.__name__ not in (
            "Module",
            "_ConvNd",
        ):
            return cls.__name__
    return type(module).__name__


def own_tensors(module: nn.Module) -> tuple[tuple[str, Shape], ...]:
    found = [*module._parameters.items(), *module._buffers.items()]
    return tuple((n, tuple(t.shape)) for n, t in found if t is not None)


def parametrised(model: nn.Module) -> dict[str, nn.Module]:
    """Every module of ``model`` that holds tensors of its own, by name."""
    return {n: m for n, m in model.named_modules() if own_tensors(m)}


class _Flow:
    """While a pass runs: which parametrised calls each tensor derives from, through any
    parameter-free operation in between (a TorchFunctionMode sees every torch function).

    A tensor's entry goes when the tensor does (weak keys, by identity): a new tensor that
    gets a dead one's id inherits nothing, and no activation is kept alive (keeping them all
    made a resnet50's pass at 224x224 allocate fresh memory for every one: 0.05 s of page
    faults, three quarters of the pass again)."""

    def __init__(self) -> None:
        from torch.utils.weak import WeakIdKeyDictionary

        self.calls: list[Call] = []
        self.parents: list[frozenset[int]] = []  # per call: the calls its inputs come from
        self.source = WeakIdKeyDictionary()  # tensor -> the calls it derives from
        self.latest: dict[int, int] = {}  # id(Call) -> the index of its latest call

    def origin(self, values: Any) -> frozenset[int]:
        found: frozenset[int] = frozenset()
        for t in _tensors_in(values):
            got = self.source.get(t)  # type: ignore[no-untyped-call]  # torch's: unannotated
            found |= got if got is not None else frozenset()
        return found

    def mark(self, values: Any, origin: frozenset[int]) -> None:
        for t in _tensors_in(values):
            self.source[t] = origin


def _tensors_in(values: Any) -> list[Any]:
    import torch

    if isinstance(values, torch.Tensor):
        return [values]
    if isinstance(values, (tuple, list)):
        return [t for v in values for t in _tensors_in(v)]
    if isinstance(values, dict):
        return [t for v in values.values() for t in _tensors_in(v)]
    return []


@contextmanager
def recording(model: nn.Module) -> Iterator[_Flow]:
    """While inside, every call of a parametrised module of ``model`` is recorded with the
    calls its inputs derive from."""
    from torch.overrides import TorchFunctionMode

    flow = _Flow()

    class Follow(TorchFunctionMode):
        def __torch_function__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            out = func(*args, **(kwargs or {}))
            origin = flow.origin((args, kwargs or {}))
            if origin:  # an in-place op keeps its tensor's id: the union of both
                flow.mark(out, origin | flow.origin(out))
            return out

    handles = []
    for name, module in parametrised(model).items():
        call = Call(name, kind(module), own_tensors(module))

        def pre(_m: nn.Module, args: Any, call: Call = call) -> None:
            flow.parents.append(flow.origin(args))
            flow.latest[id(call)] = len(flow.calls)
            flow.calls.append(call)

        def post(_m: nn.Module, _args: Any, out: Any, call: Call = call) -> None:
            flow.mark(out, frozenset({flow.latest[id(call)]}))

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        with Follow():
            yield flow
    finally:
        for h in handles:
            h.remove()


def canonical(calls: list[Call], parents: list[frozenset[int]]) -> tuple[Call, ...]:
    """The calls in an order that does not depend on which of two independent branches the
    forward happens to run first: of the calls whose inputs are ready, the one with the longest
    chain of calls after it goes first (a bottleneck's three convs before its projection,
    whether its forward computes the shortcut first or last); of equal chains, the one that
    continues the call just taken; then the order they ran."""
    import heapq

    children: list[list[int]] = [[] for _ in calls]
    for i, ps in enumerate(parents):
        for p in ps:
            if p < i:
                children[p].append(i)
    height = [0] * len(calls)
    for i in reversed(range(len(calls))):
        height[i] = 1 + max((height[c] for c in children[i]), default=0)
    waiting = [len({p for p in ps if p < i}) for i, ps in enumerate(parents)]
    ready = [(-height[i], 1, i) for i in range(len(calls)) if waiting[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, _, i = heapq.heappop(ready)
        order.append(i)
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:  # ready now: the more recently, the sooner among equals
                heapq.heappush(ready, (-height[c], -len(order), c))
    return tuple(calls[i] for i in order)


def calls_of(model: nn.Module, input_shape: Shape) -> tuple[Call, ...]:
    """The parametrised calls of one pass on ``input_shape``, on the model's own device, in
    eval mode (restored after), in :func:`canonical` order. On the meta device no values are
    computed, and the trace's shape rules stand in for torch's meta kernels where they have
    one (several of those are Python decompositions: a resnet50's meta pass took 0.5 s; with
    the rules, a third of its CPU pass at 64x64)."""
    import torch

    from ..tracing.recorder import Recorder

    device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    x = torch.zeros(input_shape, device=device)
    if device.type != "meta":
        return calls_and_output(model, x)[0]
    with Recorder(shape_rules=True):  # entered first: the recording's own mode sees every call
        return calls_and_output(model, x)[0]


def calls_and_output(model: nn.Module, x: Any) -> tuple[tuple[Call, ...], Any]:
    """:func:`calls_of` on the input ``x`` itself, and the model's output on it: the recorder
    only looks on (every torch function runs as it would without it), so the output is the
    one a plain pass gives, and the proof uses it as its first comparison input."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with recording(model) as flow, torch.no_grad():
            out = model(x)
    finally:
        model.train(was_training)
    return canonical(flow.calls, flow.parents), out


# --- the alignment --------------------------------------------------------------------------------
def align(
    a: nn.Module, b: nn.Module, input_shape: Shape, b_shape: Shape | None = None
) -> Alignment:
    """``a`` and ``b`` aligned by their parametrised calls on ``input_shape`` (``b_shape``
    for ``b``, where it differs); see the module's docstring."""
    return align_calls(calls_of(a, input_shape), calls_of(b, b_shape or input_shape),
                       _module_names(a), _module_names(b), set(parametrised(a)), set(parametrised(b)))  # fmt: skip


def _module_names(model: nn.Module) -> tuple[str, ...]:
    return tuple(n for n, _ in model.named_modules())


def align_calls(
    a: tuple[Call, ...], b: tuple[Call, ...], names_a: tuple[str, ...] = (), names_b: tuple[str, ...] = (),
    holders_a: set[str] | None = None, holders_b: set[str] | None = None,
) -> Alignment:  # fmt: skip
    """The alignment of two call sequences (see :func:`align`); ``names_*``: every module's
    name, for the containers; ``holders_*``: the modules that hold tensors, called or not."""
    uncalled_a = tuple(sorted((holders_a or set()) - {c.name for c in a}))
    uncalled_b = tuple(sorted((holders_b or set()) - {c.name for c in b}))
    parted = _parting(a, b)
    if parted is not None:
        return Alignment(a, b, unaligned=parted, uncalled_a=uncalled_a, uncalled_b=uncalled_b)
    pairs = tuple(_pair(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)))
    leaves, clash = _one_to_one(pairs)
    if clash is not None:
        return Alignment(a, b, pairs, unaligned=clash, uncalled_a=uncalled_a, uncalled_b=uncalled_b)
    modules = {"": "", **leaves, **containers(leaves, names_a, names_b)}
    return Alignment(a, b, pairs, modules, None, uncalled_a, uncalled_b)


def _parting(a: tuple[Call, ...], b: tuple[Call, ...]) -> Unaligned | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if not x.matches(y):
            return Unaligned(
                f"parametrised call #{i + 1}: {y.text()} where the reference has {x.text()}",
                i,
                x,
                y,
            )
    if len(a) != len(b):
        i = min(len(a), len(b))
        more, side = (b, "it") if len(b) > len(a) else (a, "the reference")
        return Unaligned(f"{len(b)} parametrised calls where the reference makes {len(a)}; {side} goes on "
                         f"with {more[i].text()} (call #{i + 1})", i,
                         a[i] if i < len(a) else None, b[i] if i < len(b) else None)  # fmt: skip
    return None


def _pair(i: int, x: Call, y: Call) -> Pair:
    ta, tb = dict(x.tensors), dict(y.tensors)
    return Pair(i, x, y, tuple(n for n in ta if n not in tb), tuple(n for n in tb if n not in ta))


def _one_to_one(pairs: tuple[Pair, ...]) -> tuple[dict[str, str], Unaligned | None]:
    """B's module -> A's; a module called twice must meet the same partner each time."""
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for p in pairs:
        a, b = p.a.name, p.b.name
        if forward.setdefault(b, a) != a or backward.setdefault(a, b) != b:
            other = forward[b] if forward[b] != a else backward[a]
            return forward, Unaligned(f"parametrised call #{p.index + 1}: {p.b.text()} pairs with "
                                      f"{p.a.text()} here and with {other} elsewhere: a module "
                                      "shared on one side only", p.index, p.a, p.b)  # fmt: skip
    return forward, None


def containers(
    leaves: dict[str, str], names_a: tuple[str, ...], names_b: tuple[str, ...]
) -> dict[str, str]:
    """B's containers -> A's: a B module whose paired modules (itself and those under it) map
    exactly onto the paired modules under one A module; of several such A modules, the deepest
    not already taken (``layer1.0.downsample`` before ``layer1.0`` for a 1x1 conv and its BN)."""
    under_a = _under(names_a, set(leaves.values()))
    by_set: dict[frozenset[str], list[str]] = {}
    for name, own in under_a.items():
        if own:
            by_set.setdefault(own, []).append(name)
    taken = set(leaves.values())
    out: dict[str, str] = {}
    for name, own in sorted(_under(names_b, set(leaves)).items(), key=lambda kv: -kv[0].count(".")):
        if not own or name in leaves or name == "":
            continue
        target = frozenset(leaves[n] for n in own)
        free = [n for n in by_set.get(target, []) if n not in taken and n != ""]
        if free:
            best = max(free, key=lambda n: n.count("."))
            out[name] = best
            taken.add(best)
    return out


def _under(names: tuple[str, ...], paired: set[str]) -> dict[str, frozenset[str]]:
    """Each module's paired modules: itself (if paired) and those under it."""
    out: dict[str, set[str]] = {n: set() for n in names}
    for p in paired:
        parts = p.split(".") if p else []
        for k in range(len(parts) + 1):
            prefix = ".".join(parts[:k])
            if prefix in out:
                out[prefix].add(p)
    return {n: frozenset(s) for n, s in out.items()}
