from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # keep the suite deterministic across machines: torch on 2 cores
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="rewrite tests/golden/ from the current outputs (read the diff before committing)",
    )
