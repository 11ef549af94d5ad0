"""The README and docs/ say what the code is: every module named, every link alive, every
console example the command's real output, and the test command where CI reads it."""

from __future__ import annotations

import pkgutil
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect import build
from resnet_inspect.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PACKAGE = Path(resnet_inspect.__file__).parent
# a module line of docs/architecture.md: "- `tracing/costs.py`: ..." or "- `model/`: ..."
MODULE_LINE = re.compile(r"^- `([\w/]+(?:\.py|/))`:")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _documented_modules() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return [m.group(1) for line in text.splitlines() if (m := MODULE_LINE.match(line))]


def _package_modules() -> set[str]:
    """Every module and package under resnet_inspect/, as architecture.md names them."""
    names = set()
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="resnet_inspect."):
        path = info.name.removeprefix("resnet_inspect.").replace(".", "/")
        names.add(path + "/" if info.ispkg else path + ".py")
    return names | {"__init__.py"}


def test_architecture_names_every_module_and_no_other() -> None:
    """Catches a module added (or moved) without its line, and a line left for a module that
    was removed or renamed."""
    documented = _documented_modules()
    assert len(documented) == len(set(documented)), "a module is listed twice"
    real = _package_modules()
    assert sorted(real - set(documented)) == [], "modules missing from docs/architecture.md"
    assert sorted(set(documented) - real) == [], (
        "docs/architecture.md names modules that do not exist"
    )


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors: a heading lower-cased, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_points_to_a_file_and_anchor_that_exist(page: Path) -> None:
    """Catches a page moved or renamed with links still pointing at it, and a heading renamed
    under an anchor."""
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:: not ours to check offline
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: link to missing {target}"
        if anchor:
            assert anchor in _anchors(file), f"{page.name}: no heading for #{anchor} in {file.name}"


def test_the_readme_links_every_docs_page() -> None:
    """Catches a page added to docs/ that no reader can find from the README."""
    linked = {
        target.partition("#")[0] for target in LINK.findall(README.read_text(encoding="utf-8"))
    }
    assert sorted(f"docs/{page.name}" for page in DOCS if f"docs/{page.name}" not in linked) == []


def test_the_readme_keeps_the_test_command_where_ci_reads_it() -> None:
    """Runs .ci/run's own awk on the README. Catches the block moved, reworded or fenced
    differently, which would make CI run nothing or the wrong thing."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    awk = re.search(r"awk '([^']+)' README.md", script)
    assert awk is not None, ".ci/run no longer reads the README with awk"
    cmd = subprocess.run(
        ["awk", awk.group(1), str(README)], capture_output=True, text=True, check=True
    )
    line = cmd.stdout.strip()
    assert line.startswith("pip install ") and "python -m pytest" in line


def _console_examples() -> list[tuple[str, list[str]]]:
    """(command, shown output lines) of each ```console block that starts with the tool."""
    blocks = re.findall(r"```console\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    out = []
    for block in blocks:
        first, *rest = block.rstrip("\n").split("\n")
        if first.startswith("$ resnet-inspect "):
            out.append((first.removeprefix("$ resnet-inspect "), rest))
    return out


def _normal(line: str, timed: bool) -> str:
    # bench's timings change on every run, and the widths of its columns with them: there
    # only the words and the order of the cells must match
    line = line.rstrip()
    if not timed:
        return line
    line = re.sub(r"(?<![\w.,])\d+(,\d{3})*(\.\d+)?(?![\w.])", "0", line)  # 1,186.29 too
    return " ".join(re.sub(r"([━─])\1+", r"\1", line).split())


EXAMPLES = _console_examples()


def test_the_readme_shows_an_example_of_every_command() -> None:
    """Catches an example dropped when the README is edited."""
    shown = {cmd.split()[0] for cmd, _ in EXAMPLES}
    assert shown >= {"summary", "flops", "list", "diff", "identify", "check", "bench"}


@pytest.mark.parametrize("command, shown", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_a_readme_example_is_the_real_output(
    command: str, shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shown line appears in the real output, in order (`...` is a cut). Catches an
    output that changed while the README still shows the old one."""
    args = shlex.split(command)
    if any(a.endswith(".pth") for a in args):
        # the checkpoint the README says how to make
        torch.save(build("resnet20", num_classes=100).state_dict(), tmp_path / "r20_cifar100.pth")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    # check exits 1 on a file that does not load (the README's example shows one); others 0
    assert result.exit_code == (1 if args[0] == "check" else 0), result.output
    assert any(line.strip() not in ("", "...") for line in shown), "an example shows no output"
    timed = args[0] == "bench"
    real = [_normal(line, timed) for line in result.stdout.splitlines()]
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        want = _normal(line, timed)
        assert want in real[at:], f"not in the output (in this order): {line!r}\n{result.stdout}"
        at = real.index(want, at) + 1
