"""The one exception family the CLI turns into a message and exit status 2 instead of a traceback.

Raise a ``UserError`` (or a subclass) for anything the user can fix by changing input: a sweep file, a data
row, a model path, a resource request. Its message must say what to change.
"""

from __future__ import annotations

__all__ = ["TrialFailure", "UserError"]


class UserError(Exception):
    """An error caused by the user's input; its message names the file, field or line and the fix."""


class TrialFailure(RuntimeError):
    """A trial stopped for a reason worth reporting; ``kind`` is 'nan', 'oom' or 'exception'.

    The sweep records the kind and message as the trial's status and goes on with the other trials.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(f"[{kind}] {message}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Failures cross process boundaries (Ray workers → driver); rebuild from kind and message.
        return TrialFailure, (self.kind, self.message)
