"""Checks that each Python helper module and its type stub (`.pyi`, beside it) say the same thing.

Editors and type checkers read the stubs instead of the modules, so a stub that drifts from its
module misleads every rule author silently. This script parses both with `ast` (it imports
nothing, so it runs without the generated `wit_world` bindings or componentize-py) and checks,
for each module:

- the public names (not starting with `_`) are the same in both: functions, classes, module-level
  assignments (constants such as `UNSPECIFIED`) and names re-exported from another `wasmhook_*`
  module (`from wasmhook_shared import get`, which the stub writes `get as get`);
- every function, and every public method of every class, has the same parameters in both:
  names, kinds (positional, `*args`, keyword-only, `**kwargs`), order, which have a default, and
  the default itself where the stub writes one other than `...`;
- every stub function has its parameters (except `self`) and return annotated, and a docstring.

`wasmhook_*.py` modules without a stub must be listed in `NO_STUB` with the reason.

Run: `python3 tests/tools/check_python_stubs.py` (exit status 1 and one line per mismatch).
"""

import ast
import sys
from pathlib import Path

# The helpers, in guest-sdk/python (this file is tests/tools/).
HERE = Path(__file__).resolve().parents[2] / "guest-sdk" / "python"

# Helper modules a rule does not import, and so ships without a stub.
NO_STUB = {
    # The build's entry module (`componentize-py … componentize wasmhook_app`): it star-imports
    # the rule's own `app` and picks `Settings`; no rule imports it.
    "wasmhook_app",
}


def public(name: str) -> bool:
    return not name.startswith("_")


def parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, str, str | None]]:
    """The parameters in order, as (kind, name, default): default is None without one, else its source."""
    args = function.args
    positional = args.posonlyargs + args.args
    # Defaults belong to the last positional parameters.
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    result = []
    for index, (arg, default) in enumerate(zip(positional, defaults)):
        kind = "positional-only" if index < len(args.posonlyargs) else "positional"
        result.append((kind, arg.arg, None if default is None else ast.unparse(default)))
    if args.vararg is not None:
        result.append(("*args", args.vararg.arg, None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        result.append(("keyword-only", arg.arg, None if default is None else ast.unparse(default)))
    if args.kwarg is not None:
        result.append(("**kwargs", args.kwarg.arg, None))
    return result


def compare_parameters(where: str, module_function, stub_function, problems: list[str]) -> None:
    real = parameters(module_function)
    stub = parameters(stub_function)
    show = lambda params: "(" + ", ".join(  # noqa: E731
        f"{'*' if kind == '*args' else '**' if kind == '**kwargs' else ''}{name}"
        + ("" if default is None else "=" + default)
        + (" [keyword-only]" if kind == "keyword-only" else "")
        for kind, name, default in params
    ) + ")"
    if len(real) != len(stub):
        problems.append(f"{where}: the module has {show(real)}, the stub {show(stub)}")
        return
    for (real_kind, real_name, real_default), (stub_kind, stub_name, stub_default) in zip(real, stub):
        if (real_kind, real_name) != (stub_kind, stub_name):
            problems.append(f"{where}: the module has {show(real)}, the stub {show(stub)}")
            return
        if (real_default is None) != (stub_default is None):
            module_says = "a default" if real_default is not None else "no default"
            stub_says = "a default" if stub_default is not None else "no default"
            problems.append(f"{where}: parameter `{real_name}` has {module_says} in the module, {stub_says} in the stub")
        elif stub_default not in (None, "...") and stub_default != real_default:
            problems.append(
                f"{where}: parameter `{real_name}` defaults to {real_default} in the module, {stub_default} in the stub"
            )


def check_annotated(where: str, function, problems: list[str]) -> None:
    for kind, name, _ in parameters(function):
        if name in ("self", "cls"):
            continue
        arg = next(
            a
            for a in function.args.posonlyargs
            + function.args.args
            + function.args.kwonlyargs
            + [a for a in (function.args.vararg, function.args.kwarg) if a is not None]
            if a.arg == name
        )
        if arg.annotation is None:
            problems.append(f"{where}: parameter `{name}` has no type in the stub")
    if function.returns is None:
        problems.append(f"{where}: no return type in the stub")
    if ast.get_docstring(function) is None:
        problems.append(f"{where}: no docstring in the stub")


def top_level(tree: ast.Module) -> dict[str, tuple[str, ast.AST]]:
    """Public top-level names: name -> (what, node)."""
    names: dict[str, tuple[str, ast.AST]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = ("function", node)
        elif isinstance(node, ast.ClassDef):
            names[node.name] = ("class", node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = ("constant", node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = ("constant", node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wasmhook_"):
            for alias in node.names:
                names[alias.asname or alias.name] = (f"re-export from {node.module}", node)
    return {name: entry for name, entry in names.items() if public(name)}


def stub_reexports(tree: ast.Module) -> set[str]:
    """Names a stub re-exports explicitly (`from m import x as x`), as type checkers require."""
    return {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }


def methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {
        node.name: node
        for node in cls.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and public(node.name)
    }


def check_module(module_path: Path, stub_path: Path, problems: list[str]) -> None:
    module_tree = ast.parse(module_path.read_text(encoding="utf-8"), str(module_path))
    stub_tree = ast.parse(stub_path.read_text(encoding="utf-8"), str(stub_path))
    module_names = top_level(module_tree)
    stub_names = top_level(stub_tree)
    module_name = module_path.stem

    for name in sorted(module_names.keys() - stub_names.keys()):
        problems.append(f"{module_name}.{name} ({module_names[name][0]}) has no stub in {stub_path.name}")
    for name in sorted(stub_names.keys() - module_names.keys()):
        problems.append(f"{stub_path.name} declares {name}, which {module_path.name} does not define")

    explicit = stub_reexports(stub_tree)
    for name in sorted(module_names.keys() & stub_names.keys()):
        (real_what, real), (stub_what, stub) = module_names[name], stub_names[name]
        where = f"{module_name}.{name}"
        if real_what.startswith("re-export"):
            if not stub_what.startswith("re-export"):
                problems.append(f"{where}: a {real_what} in the module, a {stub_what} in the stub")
            elif name not in explicit:
                problems.append(f"{where}: re-export it in the stub as `{name} as {name}`")
            continue
        if real_what != stub_what:
            problems.append(f"{where}: a {real_what} in the module, a {stub_what} in the stub")
            continue
        if real_what == "function":
            compare_parameters(where, real, stub, problems)
            check_annotated(where, stub, problems)
        elif real_what == "class":
            if ast.get_docstring(stub) is None:
                problems.append(f"{where}: no docstring in the stub")
            real_methods, stub_methods = methods(real), methods(stub)
            for method in sorted(real_methods.keys() - stub_methods.keys()):
                problems.append(f"{where}.{method} has no stub in {stub_path.name}")
            for method in sorted(stub_methods.keys() - real_methods.keys()):
                problems.append(f"{stub_path.name} declares {name}.{method}, which {module_path.name} does not define")
            for method in sorted(real_methods.keys() & stub_methods.keys()):
                compare_parameters(f"{where}.{method}", real_methods[method], stub_methods[method], problems)
                check_annotated(f"{where}.{method}", stub_methods[method], problems)


def main() -> int:
    problems: list[str] = []
    modules = sorted(HERE.glob("wasmhook_*.py"))
    if not modules:
        problems.append(f"no wasmhook_*.py in {HERE}")
    checked = []
    for module_path in modules:
        stub_path = module_path.with_suffix(".pyi")
        if module_path.stem in NO_STUB:
            if stub_path.exists():
                problems.append(f"{stub_path.name} exists, but {module_path.stem} is listed in NO_STUB")
            continue
        if not stub_path.exists():
            problems.append(f"{module_path.name} has no stub: write {stub_path.name} (or list it in NO_STUB)")
            continue
        check_module(module_path, stub_path, problems)
        checked.append(module_path.stem)
    for stub_path in sorted(HERE.glob("*.pyi")):
        if not stub_path.with_suffix(".py").exists():
            problems.append(f"{stub_path.name} has no module {stub_path.with_suffix('.py').name}")
    if problems:
        for problem in problems:
            print(f"check_stubs: {problem}", file=sys.stderr)
        print(f"check_stubs: {len(problems)} mismatch(es) between the helper modules and their stubs", file=sys.stderr)
        return 1
    print(f"check_stubs: {len(checked)} stubs match their modules ({', '.join(checked)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
