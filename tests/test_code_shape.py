"""The pipeline's code stays in small pieces: no function over 60 lines, no module over 600 lines.

Measured with ``ast`` over every module in ``include/receivables``: a function's length runs from its
``def`` line to its last line, nested functions and classes included (decorators are not counted); a
module's length is its number of lines. ``codat/models.py`` is left out: it is a declarative mirror of
Codat's schemas, one pydantic model per schema, and grows with them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "include" / "receivables"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 600
# Paths relative to PACKAGE.
EXEMPT = {Path("codat/models.py")}


def modules() -> list[Path]:
    """Every module of the pipeline package that the limits apply to."""
    found = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE) not in EXEMPT)
    assert found, f"no modules under {PACKAGE}"
    return found


def functions(tree: ast.AST) -> Iterator[tuple[str, int, int]]:
    """(qualified name, def line, length in lines) of every function in ``tree``, nested ones too."""

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, child.lineno, child.end_lineno - child.lineno + 1
                yield from visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def test_functions_are_measured_from_def_to_end_including_nested_ones():
    source = "@decorator\ndef outer():\n    x = 1\n\n    def inner():\n        return x\n\n    return inner\n"
    assert list(functions(ast.parse(source))) == [("outer", 2, 7), ("outer.inner", 5, 2)]


def test_no_function_over_60_lines():
    too_long = [
        f"{path.relative_to(PACKAGE)}:{line} {name} ({length} lines)"
        for path in modules()
        for name, line, length in functions(ast.parse(path.read_text(encoding="utf-8")))
        if length > MAX_FUNCTION_LINES
    ]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)


def test_no_module_over_600_lines():
    too_long = [
        f"{path.relative_to(PACKAGE)} ({length} lines)"
        for path in modules()
        if (length := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(too_long)
