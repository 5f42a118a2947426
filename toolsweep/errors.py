"""The one exception family the CLI turns into a message and exit status 2 instead of a traceback.

Raise a ``UserError`` (or a subclass) for anything the user can fix by changing input: a sweep file, a data
row, a model path, a resource request. Its message must say what to change.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """An error caused by the user's input; its message names the file, field or line and the fix."""
