"""The error hierarchy of Juniper.

`UserError` is what an administrator can fix: its message is one actionable sentence that the CLI
prints on one line (no traceback) before exiting with `exit_code`. Anything else is a bug and keeps its
traceback.
"""


class JuniperError(Exception):
    """Base class of every error Juniper raises on purpose."""


class UserError(JuniperError):
    """Something the user can fix; the message says what is wrong and what to do."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} {self.hint}" if self.hint else text


class AddonError(UserError):
    """An addon cannot be found, installed, upgraded or uninstalled (unknown, missing dependency, cycle)."""

    exit_code = 2


class ParameterError(UserError):
    """A system parameter is unknown or its value has the wrong type."""

    exit_code = 2


class NotFound(UserError):
    """A record named on the command line does not exist."""

    exit_code = 2
