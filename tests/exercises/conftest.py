"""Load the notebooks' exercise solutions by file path (solutions/ is not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions" / "exercises"


def load_solution(name: str):
    spec = importlib.util.spec_from_file_location(f"solution_{name}", SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def solution(request):
    """The solution module named by the test file: test_ex01_sockets.py -> ex01_sockets.py."""
    return load_solution(Path(request.fspath).stem.removeprefix("test_"))
