"""The public API: ``import photonic_dat as pdat`` exposes documented names, lazily."""

import importlib.metadata
import subprocess
import sys

import pytest

import photonic_dat as pdat


def test_every_public_name_resolves_and_is_documented():
    for name in pdat.__all__:
        value = getattr(pdat, name)
        if name != "__version__":
            assert value.__doc__, f"pdat.{name} has no docstring"
    assert "PhysicalSystem" in dir(pdat)


def test_version_comes_from_the_package_metadata():
    assert pdat.__version__ == importlib.metadata.version("photonic-dat")


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = pdat.no_such_thing


def test_importing_the_package_loads_neither_torch_nor_matplotlib():
    code = "import sys, photonic_dat; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_exceptions_form_two_families():
    assert issubclass(pdat.ConfigError, pdat.UsageError)
    assert issubclass(pdat.DeviceError, pdat.RuntimeFailure)
    assert issubclass(pdat.UsageError, pdat.PhotonicDATError)
    assert not issubclass(pdat.RuntimeFailure, pdat.UsageError)
