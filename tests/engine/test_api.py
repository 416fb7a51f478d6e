"""engine's public API: every name in ``__all__`` resolves, lazily, to what the type
checkers see (the imports under TYPE_CHECKING in engine/__init__.py)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import engine

INIT = Path(engine.__file__)


def type_checking_imports() -> dict[str, tuple[str, str]]:
    """Public name -> (module, name in it), as written under ``if TYPE_CHECKING:``."""
    tree = ast.parse(INIT.read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    return {alias.asname or alias.name: (str(node.module), alias.name)
            for node in block.body if isinstance(node, ast.ImportFrom)
            for alias in node.names}


def test_all_the_lazy_map_and_the_typed_imports_name_the_same_objects() -> None:
    typed = type_checking_imports()
    assert sorted(engine.__all__) == sorted(typed)
    for name, (module, original) in typed.items():
        assert getattr(engine, name) is getattr(importlib.import_module(module), original), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        engine.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("engine.no_such_thing resolved")


def test_import_engine_loads_no_submodule() -> None:
    probe = "import sys, engine; print(sorted(m for m in sys.modules if m.startswith('engine.')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
