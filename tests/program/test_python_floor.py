"""We promise `requires-python >= 3.9` but develop on 3.11, and no 3.9
interpreter is available here. These static checks catch the usual ways
3.10+ code sneaks in: new syntax, PEP 604/585 annotations evaluated at
runtime, and standard-library APIs that do not exist on 3.9."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "xentui"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _ids(paths):
    return [str(p.relative_to(PACKAGE)) for p in paths]


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_parses_as_python_39(path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )


def _uses_new_annotation_syntax(annotation: ast.AST) -> bool:
    for node in ast.walk(annotation):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return True  # X | Y (PEP 604)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id in {"list", "dict", "tuple", "set", "frozenset", "type"}:
                return True  # list[str] (PEP 585)
    return False


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_new_annotations_only_with_future_import(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _has_future_annotations(tree):
        return
    offenders = []
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations = [a.annotation for a in args.args + args.kwonlyargs + args.posonlyargs if a.annotation]
            annotations += [node.returns] if node.returns else []
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        offenders += [node.lineno for a in annotations if _uses_new_annotation_syntax(a)]
    assert not offenders, f"3.10+ annotations without `from __future__ import annotations` at lines {offenders}"


# Calls whose keyword arguments do not exist on 3.9.
_NEW_KEYWORDS = {("zip", "strict"), ("dataclass", "slots"), ("dataclass", "kw_only"), ("field", "kw_only")}


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_no_310_runtime_apis(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            for kw in node.keywords:
                if (name, kw.arg) in _NEW_KEYWORDS:
                    problems.append(f"line {node.lineno}: {name}({kw.arg}=...)")
            if name == "isinstance" and len(node.args) == 2 and isinstance(node.args[1], ast.BinOp):
                problems.append(f"line {node.lineno}: isinstance(x, A | B)")
    for node in _unguarded_imports(tree):
        for alias in node.names:
            if alias.name in _NEW_MODULES:
                problems.append(f"line {node.lineno}: unguarded `import {alias.name}` (not on 3.9)")
    assert not problems, "\n".join(problems)


_NEW_MODULES = {"tomllib"}


def _is_guard(node: ast.AST) -> bool:
    """`if sys.version_info >= ...:` or `try: ... except ImportError:`."""
    if isinstance(node, ast.If):
        return "version_info" in ast.dump(node.test)
    if isinstance(node, ast.Try):
        return any(
            "ImportError" in ast.dump(h.type) or "ModuleNotFoundError" in ast.dump(h.type)
            for h in node.handlers
            if h.type is not None
        )
    return False


def _unguarded_imports(tree: ast.Module):
    def visit(node, guarded):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import) and not guarded:
                yield child
            yield from visit(child, guarded or _is_guard(child))

    yield from visit(tree, False)
