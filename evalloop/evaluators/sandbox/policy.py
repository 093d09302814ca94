"""What user code may do: RestrictedPython's compile, plus the names and guards it runs with.

Nothing here imports Django, so the sandbox process loads only this, the protocol and the
five modules user code may import.
"""

from __future__ import annotations

import ast
import datetime
import json
import math
import operator
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import CodeType, ModuleType, SimpleNamespace, TracebackType
from typing import Any

from RestrictedPython import PrintCollector, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)

# The name user code is compiled under: traceback entries with it are the user's lines.
FILENAME = "<evaluator>"
FUNCTION = "evaluate"
MAX_CODE_CHARS = 100_000
MODULES: tuple[ModuleType, ...] = (datetime, json, math, re, statistics)
MODULE_NAMES = ", ".join(module.__name__ for module in MODULES)


@dataclass(frozen=True)
class CodeProblem:
    """Why code cannot run, and the line (1-based) where it was found, when there is one."""

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _public(module: ModuleType) -> SimpleNamespace:
    """A module's public names without the modules it imported (`json.codecs`, `datetime.sys`)."""
    names = getattr(module, "__all__", None) or dir(module)
    return SimpleNamespace(
        **{
            name: getattr(module, name)
            for name in names
            if not name.startswith("_") and not isinstance(getattr(module, name), ModuleType)
        }
    )


_IMPORTABLE = {module.__name__: _public(module) for module in MODULES}
# C code importing for itself (`datetime.strftime` needs `time`) calls `__import__` with an
# empty list as fromlist and then takes the module from `sys.modules`, ignoring what
# `__import__` answered. Import statements pass None or a tuple, so user code never gets
# more than this empty namespace that way.
_NOTHING = SimpleNamespace()


def _import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> SimpleNamespace:
    if level == 0 and name in _IMPORTABLE:
        return _IMPORTABLE[name]
    if type(fromlist) is list and not fromlist:
        return _NOTHING
    raise ImportError(f"import of {name} is not allowed (only {MODULE_NAMES})")


def _getattr(obj: Any, name: str, *default: Any) -> Any:
    """`getattr` refusing names that start with "_", frame attributes and `str.format`."""
    return safer_getattr_raise(obj, name, *default)


def _hasattr(obj: Any, name: str) -> bool:
    try:
        _getattr(obj, name)
    except AttributeError:
        return False
    return True


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


# RestrictedPython's safe set (no open, type, vars, globals, compile, exec or eval), plus the
# plain-data helpers it leaves to its host. Iteration needs no guard here: the objects user
# code can reach are its own and the row's plain JSON values.
BUILTINS: dict[str, Any] = {
    **safe_builtins,
    **{
        helper.__name__: helper
        for helper in (
            all,
            any,
            dict,
            enumerate,
            filter,
            frozenset,
            iter,
            list,
            map,
            max,
            min,
            next,
            reversed,
            set,
            sorted,
            sum,
            tuple,
            zip,
        )
    },
    "getattr": _getattr,
    "hasattr": _hasattr,
    "__import__": _import,
}

_GUARDS: dict[str, Any] = {
    "__builtins__": BUILTINS,
    "__name__": "evaluator",
    "__metaclass__": type,
    "_getattr_": _getattr,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_print_": PrintCollector,
}


def fresh_globals() -> dict[str, Any]:
    """The namespace one evaluation runs in; nothing carries over from another."""
    return dict(_GUARDS)


def compile_code(code: str) -> CodeType | CodeProblem:
    """Compile user code with RestrictedPython, or say why it cannot run."""
    try:
        tree = ast.parse(code, FILENAME)
    except SyntaxError as exc:
        return CodeProblem(f"SyntaxError: {exc.msg}", exc.lineno)
    except (RecursionError, MemoryError):
        return CodeProblem("the code is nested too deeply")
    except ValueError as exc:
        return CodeProblem(str(exc))
    if not _defines_function(tree):
        return CodeProblem(f"the code must define a function {FUNCTION}(row) at the top level")
    try:
        result = compile_restricted_exec(tree, FILENAME)
    except (RecursionError, MemoryError):
        return CodeProblem("the code is nested too deeply")
    if result.errors or result.code is None:
        return _restriction_problem(result.errors[0] if result.errors else "cannot compile")
    return result.code


def code_problems(code: str) -> list[CodeProblem]:
    """What stops `code` from running; empty when it compiles and defines `evaluate`."""
    compiled = compile_code(code)
    return [compiled] if isinstance(compiled, CodeProblem) else []


def _defines_function(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == FUNCTION:
            arguments = node.args
            positional = len(arguments.posonlyargs) + len(arguments.args)
            required = positional - len(arguments.defaults)
            return positional >= 1 and required <= 1 and None not in arguments.kw_defaults
    return False


_RESTRICTION_LINE = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def _restriction_problem(error: str) -> CodeProblem:
    """RestrictedPython says "Line 3: <why>"; keep the why and the line apart."""
    match = _RESTRICTION_LINE.match(error)
    if match is None:
        return CodeProblem(error)
    return CodeProblem(match.group(2), int(match.group(1)))


def user_line(traceback: TracebackType | None) -> int | None:
    """The line of user code nearest to where an exception was raised."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
