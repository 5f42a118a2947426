"""The one exception family the CLI turns into a message and exit status 2 instead of a traceback.

Raise a ``UserError`` (or a subclass) for anything the user can fix by changing input: a sweep file, a data
row, a model path, a resource request. Its message must say what to change.
"""

from __future__ import annotations

__all__ = ["EXCEPTION", "FAILURE_KINDS", "NON_FINITE", "OUT_OF_MEMORY", "TrialFailure", "UserError"]

# Why a trial failed, as recorded in failure.json, attempts.jsonl and the summary; the OOM retry acts on
# OUT_OF_MEMORY alone.
NON_FINITE = "nan"
OUT_OF_MEMORY = "oom"
EXCEPTION = "exception"
FAILURE_KINDS: tuple[str, ...] = (NON_FINITE, OUT_OF_MEMORY, EXCEPTION)


class UserError(Exception):
    """An error caused by the user's input; its message names the file, field or line and the fix."""


class TrialFailure(RuntimeError):
    """A trial stopped for a reason worth reporting; ``kind`` is one of ``FAILURE_KINDS``.

    The sweep records the kind and message as the trial's status and goes on with the other trials.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(f"[{kind}] {message}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Failures cross process boundaries (Ray workers → driver); rebuild from kind and message.
        return TrialFailure, (self.kind, self.message)
