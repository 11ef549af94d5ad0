"""The memory this process's cgroups leave it, read as data from ``/proc`` and ``/sys``.

A limit binds the process's own cgroup and every ancestor's (cgroup v2 always; v1 where the
ancestor accounts hierarchically, ``memory.use_hierarchy`` 1, the only choice on recent kernels),
so every level from the process's cgroup up to the top of the mounted hierarchy is read, not the
hierarchy's root alone. The room at a level is its limit less its usage; what binds is the level
with the least room, which is not always the smallest limit (a parent shared with siblings can
be fuller than the child's own limit). Usage is ``memory.current`` (v2) or
``memory.usage_in_bytes`` (v1) less the inactive page cache of the same cgroup (``memory.stat``:
``inactive_file``, v1 ``total_inactive_file``), which the kernel reclaims before it kills;
kubelet counts a container's working set the same way.

Where the process's cgroup is (``/proc/self/cgroup``):

- v2: one line ``0::/a/b``;
- v1: ``N:memory:/a/b``, the controller possibly mounted with others (``N:cpu,memory:/a/b``).

Where its hierarchy is mounted (``/proc/self/mountinfo``): a ``cgroup2`` file system, or a
``cgroup`` one with ``memory`` among its options; a mount shows the hierarchy from its root
field down, so in a container the path may be ``/`` with the container's own cgroup mounted at
``/sys/fs/cgroup``, or ``/docker/ID`` with that same directory as the mount's root.

Not counted: v2's ``memory.high``, which throttles and reclaims a cgroup above it but never
kills (a run past it is slow, not ended); swap (``memory.swap.max``), which could let a run
exceed the limit instead of being killed. Both leave the figure on the safe side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..units import human_bytes, printable

V1_UNLIMITED = 2**60  # v1 writes "no limit" as the largest page count in bytes, about 2**63
READ_LIMIT = 1 << 20  # mountinfo lists every mount: large on a busy host
_LIMIT_FILE = {1: "memory.limit_in_bytes", 2: "memory.max"}
_USAGE_FILE = {1: "memory.usage_in_bytes", 2: "memory.current"}
_CACHE_KEY = {1: "total_inactive_file", 2: "inactive_file"}


@dataclass(frozen=True)
class CgroupLevel:
    """One cgroup with a limit: the process's own or an ancestor's."""

    path: str  # as the hierarchy names it, "/a/b"
    limit_bytes: int
    usage_bytes: int | None  # None: unreadable (the room is then the whole limit, and said so)
    reclaimable_bytes: int  # inactive page cache, given back before an out-of-memory kill

    @property
    def used_bytes(self) -> int:
        """What the kernel cannot take back short of killing: usage less inactive cache."""
        return max((self.usage_bytes or 0) - self.reclaimable_bytes, 0)

    @property
    def room_bytes(self) -> int:
        return max(self.limit_bytes - self.used_bytes, 0)


@dataclass(frozen=True)
class CgroupMemory:
    """What the cgroups allow: the level that binds, or None with the reason in ``note``."""

    version: int | None  # 1 or 2; None: the memory controller was not found
    binding: CgroupLevel | None  # None: no limit, or none could be read (``known`` tells)
    known: bool  # False: the limits could not be read, which is not the same as there being none
    note: str  # how the figure was found, or why there is none

    @property
    def available_bytes(self) -> int | None:
        return None if self.binding is None else self.binding.room_bytes


def cgroup_memory(root: str = "/") -> CgroupMemory:
    """The room the process's memory cgroups leave it. ``root``: where ``/proc`` and ``/sys``
    are (a fake tree in tests)."""
    text = _read(root, "proc/self/cgroup")
    own = _own_cgroup(text)
    if own is None:
        why = "could not be read" if text is None else "names no memory controller"
        return CgroupMemory(None, None, False, f"cgroup memory limit unknown: /proc/self/cgroup {why}")
    version, path = own
    mount = _find_mount(_read(root, "proc/self/mountinfo"), version)
    mount_root, mount_point = mount or ("/", "/sys/fs/cgroup" if version == 2 else "/sys/fs/cgroup/memory")
    rel = _relative(path, mount_root)
    if rel is None:
        return _unknown(version, f"the cgroup {path} is outside the one mounted ({mount_root})")
    directory = _join(root, mount_point, rel)
    if not os.path.isdir(directory) and mount is None:  # a guessed mount: maybe the cgroup's own
        rel, mount_root, directory = "", path, _join(root, mount_point, "")
    if not os.path.isdir(directory):
        return _unknown(version, f"no directory for the cgroup {path} under {mount_point}")
    return _walk(root, version, mount_point, mount_root, rel)


def _walk(root: str, version: int, mount_point: str, mount_root: str, rel: str) -> CgroupMemory:
    """Every level from the process's cgroup up to the mount, the one with the least room."""
    parts = [p for p in rel.split("/") if p]
    levels: list[CgroupLevel] = []
    unreadable: list[str] = []
    for depth in range(len(parts), -1, -1):
        directory = _join(root, mount_point, "/".join(parts[:depth]))
        name = _cgroup_name(mount_root, parts[:depth])
        if version == 1 and depth < len(parts) and (_read(directory, "memory.use_hierarchy") or "1").strip() == "0":
            break  # this ancestor does not account for its children: its limit and those above do not bind
        text = _read(directory, _LIMIT_FILE[version])
        if text is None and not os.path.lexists(os.path.join(directory, _LIMIT_FILE[version])):
            continue  # the controller is not enabled here (or the true root): no limit at this level
        read, limit = _limit_value(text)
        if not read:
            unreadable.append(name)  # there but unreadable, or not a limit: unknown, not "no limit"
        elif limit is not None:
            levels.append(_level(directory, name, limit, version))
    hidden = _hidden_ancestors(_join(root, mount_point, rel), _cgroup_name(mount_root, parts)) if version == 1 else None
    if hidden is not None and all(hidden.limit_bytes < level.limit_bytes for level in levels):
        levels.append(hidden)
    if levels:
        best = min(levels, key=lambda level: level.room_bytes)
        missed = f" ({_LIMIT_FILE[version]} of {unreadable[0]} could not be read)" if unreadable else ""
        return CgroupMemory(version, best, True, _describe(version, best) + missed)
    if unreadable:
        return _unknown(version, f"{_LIMIT_FILE[version]} of {unreadable[0]} could not be read")
    return CgroupMemory(version, None, True, f"no cgroup memory limit (cgroup v{version})")


def _level(directory: str, name: str, limit: int, version: int) -> CgroupLevel:
    stat = _read(directory, "memory.stat")
    return CgroupLevel(name, limit, _int(_read(directory, _USAGE_FILE[version])), _stat_value(stat, _CACHE_KEY[version]))


def _hidden_ancestors(directory: str, name: str) -> CgroupLevel | None:
    """v1's kernel-computed least limit of the cgroup and all its ancestors
    (``hierarchical_memory_limit``), which sees those above the mount too (a container without
    a cgroup namespace); with the cgroup's own usage, the only one known here."""
    limit = _stat_value(_read(directory, "memory.stat"), "hierarchical_memory_limit")
    if not 0 < limit < V1_UNLIMITED:
        return None
    return _level(directory, f"{name}'s ancestors (hierarchical_memory_limit)", limit, 1)


def _describe(version: int, level: CgroupLevel) -> str:
    used = "usage unknown" if level.usage_bytes is None else f"{human_bytes(level.used_bytes)} in use"
    return f"cgroup v{version} {_LIMIT_FILE[version]} of {level.path}: {human_bytes(level.limit_bytes)} limit, {used}"


def _unknown(version: int, why: str) -> CgroupMemory:
    return CgroupMemory(version, None, False, f"cgroup memory limit unknown: {printable(why)}")


def _own_cgroup(text: str | None) -> tuple[int, str] | None:
    """(1, path) where v1's memory controller holds the process, else (2, path) from the v2
    line; None where neither is there. A controller is bound to one hierarchy only."""
    unified: str | None = None
    for line in (text or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3 or not fields[2].startswith("/"):
            continue
        if "memory" in fields[1].split(","):
            return 1, fields[2]
        if fields[0] == "0" and fields[1] == "":
            unified = fields[2]
    return None if unified is None else (2, unified)


def _find_mount(text: str | None, version: int) -> tuple[str, str] | None:
    """(the hierarchy's path at the mount's root, the mount point) of the first mount of the
    process's hierarchy; None where mountinfo says nothing of it."""
    for line in (text or "").splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:] or len(fields) < 7:
            continue
        fstype, *rest = fields[fields.index("-", 6) + 1 :]
        options = rest[1].split(",") if len(rest) > 1 else []
        if (version == 2 and fstype == "cgroup2") or (version == 1 and fstype == "cgroup" and "memory" in options):
            return _unescape(fields[3]), _unescape(fields[4])
    return None


def _unescape(field: str) -> str:
    """mountinfo writes a space, tab, newline and backslash as three octal digits (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def _relative(path: str, mount_root: str) -> str | None:
    """The cgroup's path below the mount's root; None where it is not below it (``/..``: a
    process outside its cgroup namespace)."""
    if ".." in path.split("/"):
        return None
    base = mount_root.rstrip("/")
    if path == base or path.startswith(base + "/") or not base:
        return path[len(base) :].strip("/")
    return None


def _cgroup_name(mount_root: str, parts: list[str]) -> str:
    return printable("/" + "/".join([*[p for p in mount_root.split("/") if p], *parts]))


def _join(root: str, mount_point: str, rel: str) -> str:
    return os.path.join(root, mount_point.lstrip("/"), rel)


def _limit_value(text: str | None) -> tuple[bool, int | None]:
    """(whether it reads as a limit, the limit in bytes or None for none: v2's "max", v1's
    near-2**63)."""
    text = (text or "").strip()
    if text == "max":
        return True, None
    value = _int(text)
    return value is not None, None if value is None or value >= V1_UNLIMITED else value


def _stat_value(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return _int(value) or 0
    return 0


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _read(directory: str, name: str) -> str | None:
    """A file's text; None where it is missing or unreadable. Non-blocking, so that a FIFO in
    its place cannot hang the run."""
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            return f.read(READ_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None
