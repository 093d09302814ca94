"""Running user Python: RestrictedPython in pooled, resource-limited processes.

`policy` says what user code may do, `child` is the sandbox process, `pool` lends processes
out and restarts them after a timeout or crash; `protocol` is the pipe between the two.
"""

from evalloop.evaluators.sandbox.policy import MAX_CODE_CHARS, CodeProblem, code_problems
from evalloop.evaluators.sandbox.pool import (
    Answer,
    SandboxPool,
    close_default_pool,
    default_pool,
)

__all__ = [
    "MAX_CODE_CHARS",
    "Answer",
    "CodeProblem",
    "SandboxPool",
    "close_default_pool",
    "code_problems",
    "default_pool",
]
