"""The package's public surface: real functions with their real signatures, whatever is imported.

``help(resnet_inspect.diff)`` and editors read ``inspect.signature``; a proxy or a lazy
``__getattr__`` shows them ``(*args, **kwargs)``, and a submodule named like a function rebinds
the package attribute to the module the moment anything imports it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import pytest

import resnet_inspect
from resnet_inspect import api

FROM_API = ("summary", "flops", "diff", "identify", "bench")
PUBLIC_FUNCTIONS = ("build", "trace", *FROM_API)


def test_help_on_diff_shows_its_parameters() -> None:
    params = list(inspect.signature(resnet_inspect.diff).parameters)
    assert params[:2] == ["a", "b"] and "align" in params and "depth" in params


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_every_public_name_is_a_plain_function(name: str) -> None:
    """Catches a proxy object (a callable class instance) coming back, and a function whose
    signature is only ``(*args, **kwargs)``."""
    value = getattr(resnet_inspect, name)
    assert isinstance(value, types.FunctionType), type(value)
    kinds = {p.kind for p in inspect.signature(value).parameters.values()}
    assert inspect.Parameter.POSITIONAL_OR_KEYWORD in kinds


@pytest.mark.parametrize("name", FROM_API)
def test_public_signatures_are_api_signatures(name: str) -> None:
    """Catches a wrapper in __init__ that drifts from api.py (a parameter added there only)."""
    assert inspect.signature(getattr(resnet_inspect, name)) == inspect.signature(getattr(api, name))
    assert getattr(resnet_inspect, name).__doc__ == getattr(api, name).__doc__


def test_importing_every_submodule_leaves_the_functions_in_place() -> None:
    """Catches a module or package named like a public function (the old ``diff.py`` and
    ``bench/``): importing it sets ``resnet_inspect.<name>`` to the module."""
    prefix = resnet_inspect.__name__ + "."
    for info in pkgutil.walk_packages(resnet_inspect.__path__, prefix):
        importlib.import_module(info.name)
    for name in PUBLIC_FUNCTIONS:
        assert isinstance(getattr(resnet_inspect, name), types.FunctionType), name
    assert type(resnet_inspect) is types.ModuleType  # no class swap on the package


def test_importing_the_package_does_not_import_torch() -> None:
    """The functions are imported at package import; api must keep torch inside its functions."""
    code = ("import sys, resnet_inspect; resnet_inspect.diff; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
