"""The memory limit bench measures a run against: the process's own cgroup and its ancestors
(v1 and v2), read from a fake /proc and /sys under tmp_path; and bench refusing, before any
model is built, a run that would not fit.

File formats after the kernel's documentation (Documentation/admin-guide/cgroup-v2.rst,
cgroup-v1/memory.rst, filesystems/proc.rst for mountinfo). Every expected figure is the limit
less the usage written into the fake tree, worked out in the comment beside it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.benchmark import engine, memory
from resnet_inspect.benchmark.cgroup import cgroup_memory
from resnet_inspect.cli import app

MIB, GIB = 2**20, 2**30
V1_NO_LIMIT = 9223372036854771712  # what v1 shows for "no limit" with 4 KiB pages: (2**63 - 1) rounded down to a page
V1_NO_LIMIT_64K = 9223372036854710272  # the same with 64 KiB pages (arm64, ppc64)
V2_MOUNT = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate"
V1_MOUNT = "35 31 0:32 {root} {point} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,{controllers}"


def fake_root(tmp_path: Path, cgroup: str, mountinfo: str, files: dict[str, str | int]) -> str:
    """/proc/self/cgroup, /proc/self/mountinfo and cgroup files (paths below the root)."""
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup + "\n")
    (tmp_path / "proc/self/mountinfo").write_text(mountinfo + "\n")
    (tmp_path / "proc/meminfo").write_text(f"MemTotal: {64 * GIB // 1024} kB\nMemAvailable: {32 * GIB // 1024} kB\n")
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(f"{text}\n")
    return str(tmp_path)


def v2(tmp_path: Path, path: str, files: dict[str, str | int]) -> str:
    """A cgroup v2 host: the process in ``path``, files relative to /sys/fs/cgroup."""
    return fake_root(tmp_path, f"0::{path}", V2_MOUNT, {f"sys/fs/cgroup/{k}": v for k, v in files.items()})


# --- cgroup v2: every level counts ---------------------------------------------------------------
def test_v2_a_limit_at_an_ancestor_only_binds_the_process(tmp_path: Path) -> None:
    root = v2(tmp_path, "/app.slice/job", {
        "app.slice/memory.max": 3 * GIB // 2, "app.slice/memory.current": 512 * MIB,
        "app.slice/job/memory.max": "max", "app.slice/job/memory.current": 100 * MIB,
        "memory.current": 40 * GIB,  # the host's root cgroup: no memory.max, as on a real one
    })  # fmt: skip
    found = cgroup_memory(root)
    assert found.available_bytes == GIB  # 1.5 GiB - 512 MiB, the ancestor's own usage
    assert found.binding is not None and found.binding.path == "/app.slice"
    assert found.note == "cgroup v2 memory.max of /app.slice: 1.50 GiB limit, 512.00 MiB in use"


def test_v2_a_limit_at_the_leaf_only(tmp_path: Path) -> None:
    root = v2(tmp_path, "/app.slice/job", {
        "app.slice/memory.max": "max", "app.slice/memory.current": 900 * MIB,
        "app.slice/job/memory.max": 256 * MIB, "app.slice/job/memory.current": 64 * MIB,
    })  # fmt: skip
    assert cgroup_memory(root).available_bytes == 192 * MIB  # 256 - 64


def test_v2_with_limits_at_both_levels_the_least_room_wins(tmp_path: Path) -> None:
    files: dict[str, str | int] = {
        "a/memory.max": GIB, "a/memory.current": 300 * MIB,
        "a/b/memory.max": 512 * MIB, "a/b/memory.current": 200 * MIB,
    }  # fmt: skip
    found = cgroup_memory(v2(tmp_path / "smaller", "/a/b", files))
    assert found.available_bytes == 312 * MIB  # the leaf's 512 - 200, not the parent's 1024 - 300
    assert found.binding is not None and found.binding.path == "/a/b"
    # siblings fill the parent: its room (1024 - 900 = 124 MiB) is less than the leaf's (512 - 100)
    files |= {"a/memory.current": 900 * MIB, "a/b/memory.current": 100 * MIB}
    assert cgroup_memory(v2(tmp_path / "fuller", "/a/b", files)).available_bytes == 124 * MIB


def test_v2_max_everywhere_is_no_limit_and_said_so(tmp_path: Path) -> None:
    root = v2(tmp_path, "/a/b", {"a/memory.max": "max", "a/b/memory.max": "max", "a/b/memory.current": MIB})
    found = cgroup_memory(root)
    assert found.available_bytes is None and found.known
    assert memory.cpu_available_bytes(root) == (32 * GIB, "MemAvailable; no cgroup memory limit (cgroup v2)")


def test_v2_reclaimable_page_cache_is_not_counted_as_used(tmp_path: Path) -> None:
    root = v2(tmp_path, "/job", {
        "job/memory.max": GIB, "job/memory.current": 900 * MIB,
        "job/memory.stat": f"anon {500 * MIB}\nfile {400 * MIB}\ninactive_file {400 * MIB}\nactive_file 0",
    })  # fmt: skip
    assert cgroup_memory(root).available_bytes == 524 * MIB  # 1024 - (900 - 400 inactive cache)


def test_the_container_case_its_own_cgroup_mounted_as_the_root(tmp_path: Path) -> None:
    # a cgroup namespace: the process sees itself at "/", and /sys/fs/cgroup is its own cgroup
    root = v2(tmp_path, "/", {"memory.max": 3 * GIB // 2, "memory.current": GIB})
    assert cgroup_memory(root).available_bytes == 512 * MIB  # 1.5 GiB - 1 GiB
    assert memory.cpu_available_bytes(root) == (512 * MIB, "cgroup v2 memory.max of /: 1.50 GiB limit, 1.00 GiB in use")


def test_the_machines_available_memory_wins_when_it_is_less(tmp_path: Path) -> None:
    root = v2(tmp_path, "/job", {"job/memory.max": 64 * GIB, "job/memory.current": 0})
    # the fake meminfo says 32 GiB available, less than the cgroup's 64 GiB of room
    assert memory.cpu_available_bytes(root) == (32 * GIB, "MemAvailable; cgroup v2 memory.max of /job: "
                                                "64.00 GiB limit, 0 B in use")  # fmt: skip


# --- cgroup v1 -----------------------------------------------------------------------------------
def test_v1_the_memory_controllers_own_path_not_the_hierarchys_root(tmp_path: Path) -> None:
    root = fake_root(tmp_path, "5:devices:/\n4:memory:/process_api/abc\n1:cpu:/", V1_MOUNT.format(
        root="/", point="/sys/fs/cgroup/memory", controllers="memory"), {
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NO_LIMIT,  # the root, which the old code read
        "sys/fs/cgroup/memory/memory.usage_in_bytes": 3 * GIB,
        "sys/fs/cgroup/memory/process_api/memory.limit_in_bytes": V1_NO_LIMIT,
        "sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": GIB,
        "sys/fs/cgroup/memory/process_api/abc/memory.usage_in_bytes": 256 * MIB,
    })  # fmt: skip
    found = cgroup_memory(root)
    assert found.available_bytes == 768 * MIB  # 1024 - 256
    assert found.note == "cgroup v1 memory.limit_in_bytes of /process_api/abc: 1.00 GiB limit, 256.00 MiB in use"


def test_v1_comma_joined_controllers_are_found_through_mountinfo(tmp_path: Path) -> None:
    mounts = "\n".join([
        V1_MOUNT.format(root="/", point="/sys/fs/cgroup/cpu,cpuacct", controllers="cpu,cpuacct"),
        V1_MOUNT.format(root="/", point="/sys/fs/cgroup/cpu\\040memory", controllers="cpu,memory"),  # a space, escaped
    ])  # fmt: skip
    root = fake_root(tmp_path, "3:cpu,memory:/job\n2:cpu,cpuacct:/job", mounts, {
        "sys/fs/cgroup/memory/memory.limit_in_bytes": MIB,  # a decoy where the controller is not
        "sys/fs/cgroup/cpu memory/job/memory.limit_in_bytes": 2 * GIB,
        "sys/fs/cgroup/cpu memory/job/memory.usage_in_bytes": GIB,
    })  # fmt: skip
    assert cgroup_memory(root).available_bytes == GIB  # 2 GiB - 1 GiB


@pytest.mark.parametrize("no_limit", [V1_NO_LIMIT, V1_NO_LIMIT_64K])
def test_v1_unlimited_is_no_limit(tmp_path: Path, no_limit: int) -> None:
    root = fake_root(tmp_path, "4:memory:/job", V1_MOUNT.format(root="/", point="/sys/fs/cgroup/memory",
                                                                controllers="memory"), {
        "sys/fs/cgroup/memory/job/memory.limit_in_bytes": no_limit,
        "sys/fs/cgroup/memory/job/memory.usage_in_bytes": MIB,
    })  # fmt: skip
    found = cgroup_memory(root)
    assert found.available_bytes is None and found.known
    assert memory.cpu_available_bytes(root)[0] == 32 * GIB  # MemAvailable, not 2**63 - 1 MiB


def test_v1_in_a_container_without_a_namespace_the_mount_is_the_cgroup(tmp_path: Path) -> None:
    # Docker on v1: /proc/self/cgroup names the host's path, the mount's root is that same path
    root = fake_root(tmp_path, "4:memory:/docker/0123abcd", V1_MOUNT.format(
        root="/docker/0123abcd", point="/sys/fs/cgroup/memory", controllers="memory"), {
        "sys/fs/cgroup/memory/memory.limit_in_bytes": 3 * GIB // 2,
        "sys/fs/cgroup/memory/memory.usage_in_bytes": 256 * MIB,
    })  # fmt: skip
    found = cgroup_memory(root)
    assert found.available_bytes == 1280 * MIB  # 1536 - 256
    assert found.binding is not None and found.binding.path == "/docker/0123abcd"


def test_v1_a_limit_above_the_mount_is_seen_through_the_kernels_hierarchical_figure(tmp_path: Path) -> None:
    # the host's /docker parent (limit 2 GiB) is above the mount; memory.stat carries the least
    # limit of the cgroup and every ancestor, as the kernel works it out
    root = fake_root(tmp_path, "4:memory:/docker/0123abcd", V1_MOUNT.format(
        root="/docker/0123abcd", point="/sys/fs/cgroup/memory", controllers="memory"), {
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NO_LIMIT,
        "sys/fs/cgroup/memory/memory.usage_in_bytes": 512 * MIB,
        "sys/fs/cgroup/memory/memory.stat": f"cache 0\nhierarchical_memory_limit {2 * GIB}\n"
                                            f"total_inactive_file {128 * MIB}",
    })  # fmt: skip
    found = cgroup_memory(root)
    assert found.available_bytes == 1664 * MIB  # 2048 - (512 - 128 inactive cache)
    assert found.note.startswith("cgroup v1 memory.limit_in_bytes of /docker/0123abcd's ancestors (hierarchical")


def test_v1_an_ancestor_without_hierarchy_does_not_bind(tmp_path: Path) -> None:
    base = "sys/fs/cgroup/memory"
    root = fake_root(tmp_path, "4:memory:/a/b", V1_MOUNT.format(root="/", point=f"/{base}", controllers="memory"), {
        f"{base}/a/memory.use_hierarchy": 0, f"{base}/a/memory.limit_in_bytes": 100 * MIB,
        f"{base}/a/memory.usage_in_bytes": 0,
        f"{base}/a/b/memory.limit_in_bytes": GIB, f"{base}/a/b/memory.usage_in_bytes": 0,
    })  # fmt: skip
    assert cgroup_memory(root).available_bytes == GIB  # /a does not account for /a/b: its 100 MiB is not ours


# --- what cannot be read -------------------------------------------------------------------------
def test_no_proc_self_cgroup_is_unknown_not_unlimited(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemAvailable: 1024 kB\n")
    found = cgroup_memory(str(tmp_path))
    assert found.available_bytes is None and not found.known
    available, basis = memory.cpu_available_bytes(str(tmp_path))
    assert available == MIB and basis.startswith("MemAvailable; cgroup memory limit unknown")
    assert memory.cpu_available_bytes(str(tmp_path / "nothing")) == (
        None, "unknown (no MemAvailable in /proc/meminfo; cgroup memory limit unknown: "
        "/proc/self/cgroup could not be read)")  # fmt: skip


def test_without_mountinfo_the_usual_mount_points_are_tried(tmp_path: Path) -> None:
    root = v2(tmp_path / "v2", "/job", {"job/memory.max": GIB, "job/memory.current": 256 * MIB})
    (tmp_path / "v2/proc/self/mountinfo").unlink()
    assert cgroup_memory(root).available_bytes == 768 * MIB  # /sys/fs/cgroup/job: 1024 - 256
    # v1 in a container: the host's path is not below the mount, which is the cgroup itself
    root = fake_root(tmp_path / "v1", "4:memory:/docker/0123abcd", "", {
        "sys/fs/cgroup/memory/memory.limit_in_bytes": GIB, "sys/fs/cgroup/memory/memory.usage_in_bytes": 0,
    })  # fmt: skip
    assert cgroup_memory(root).available_bytes == GIB


def test_an_unreadable_usage_leaves_the_whole_limit_and_says_so(tmp_path: Path) -> None:
    found = cgroup_memory(v2(tmp_path, "/job", {"job/memory.max": GIB}))
    assert found.available_bytes == GIB and found.note.endswith("1.00 GiB limit, usage unknown")


def test_an_unreadable_limit_is_unknown_and_a_fifo_does_not_hang(tmp_path: Path) -> None:
    root = v2(tmp_path, "/job", {"job/memory.current": MIB})
    (tmp_path / "sys/fs/cgroup/job/memory.max").mkdir()  # open() fails on it
    assert not cgroup_memory(root).known
    (tmp_path / "sys/fs/cgroup/job/memory.max").rmdir()
    os.mkfifo(tmp_path / "sys/fs/cgroup/job/memory.max")  # a blocking open would wait for a writer
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("hung on a FIFO"))
    signal.alarm(10)
    try:
        assert not cgroup_memory(root).known
    finally:
        signal.alarm(0)
    os.unlink(tmp_path / "sys/fs/cgroup/job/memory.max")
    (tmp_path / "sys/fs/cgroup/job/memory.max").write_text("\x1b[2Jlots\n")
    found = cgroup_memory(root)
    assert not found.known and found.note == "cgroup memory limit unknown: memory.max of /job could not be read"


def test_a_cgroup_outside_the_mounted_one_is_unknown(tmp_path: Path) -> None:
    root = fake_root(tmp_path, "0::/../elsewhere", V2_MOUNT, {"sys/fs/cgroup/memory.max": GIB})
    assert not cgroup_memory(root).known  # not the mount's limit: it is not ours


def test_control_characters_in_a_cgroup_name_are_escaped(tmp_path: Path) -> None:
    root = v2(tmp_path, "/job\x1b[2J", {"job\x1b[2J/memory.max": GIB, "job\x1b[2J/memory.current": 0})
    assert "\x1b" not in cgroup_memory(root).note and "/job\\x1b[2J" in cgroup_memory(root).note


# --- bench refuses before building ---------------------------------------------------------------
def test_bench_under_a_limit_far_below_the_model_refuses_and_writes_nothing(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = v2(tmp_path / "fake", "/job", {"job/memory.max": 64 * MIB, "job/memory.current": 16 * MIB})
    real = memory.cpu_available_bytes
    monkeypatch.setattr(memory, "cpu_available_bytes", lambda: real(root))
    monkeypatch.setattr(engine, "_make_model", lambda *a: pytest.fail("built a model"))
    out = tmp_path / "out.json"
    # resnet50's 25,557,032 parameters (torchvision's model card) in float32: 97.5 MiB of
    # weights alone, above the 64 - 16 = 48 MiB the cgroup leaves
    result = runner.invoke(app, ["bench", "resnet50", "--input", "1x3x64x64", "-f", "json", "-o", str(out)])
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: memory: this run needs about ")
    assert "but 48.00 MiB is available on cpu (cgroup v2 memory.max of /job: 64.00 MiB limit" in line
    assert not out.exists() and os.listdir(tmp_path) == ["fake"]  # no output, no temporary file
