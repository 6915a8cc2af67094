"""The layering of docs/architecture.md (Layers) cannot drift: import-linter checks the contracts in
pyproject.toml over every import in src/vafa, at module level and inside functions alike, and an import inside
a function is allowed only with a comment saying why (app loading, a heavy optional library, a migration)."""

import ast
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "vafa"


def test_the_apps_import_only_the_layers_below_them():
    # In a process of its own: import-linter configures logging with dictConfig, which would disable every
    # logger this test process already has (and the tests that read the log after it would see nothing).
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True, no_logo=True))")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    linted = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def _import_blocks_in_functions(tree: ast.AST):
    """Runs of consecutive import statements anywhere inside a function, each once."""
    seen = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            for field in ("body", "orelse", "finalbody"):
                statements = getattr(node, field, None)
                if not isinstance(statements, list):  # a lambda's body is one expression
                    continue
                block: list = []
                for statement in [*statements, None]:
                    if isinstance(statement, ast.Import | ast.ImportFrom):
                        block.append(statement)
                    elif block:
                        if block[0].lineno not in seen:
                            seen.add(block[0].lineno)
                            yield block
                        block = []


def _explained(lines: list[str], block: list) -> bool:
    """A comment on the line above the block, or on one of its lines."""
    first, last = block[0].lineno - 1, block[-1].end_lineno
    return lines[first - 1].strip().startswith("#") or any("#" in line for line in lines[first:last])


def test_no_import_hides_in_a_function_without_a_reason():
    unexplained = []
    for path in sorted(SOURCE.rglob("*.py")):
        lines = path.read_text().splitlines()
        for block in _import_blocks_in_functions(ast.parse("\n".join(lines))):
            if not _explained(lines, block):
                unexplained.extend(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}"
                                   for node in block)
    assert not unexplained, "imports inside functions with no comment saying why:\n" + "\n".join(unexplained)
