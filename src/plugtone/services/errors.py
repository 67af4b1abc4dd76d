"""What a service call can refuse, in terms every face (CLI, API, UI) can show.

Each error carries the HTTP status the API answers with and a message fit for a
person; none ever carries a parameter value such as a password. Validation errors
keep their problems (field and message) so a face can show each beside its field.
"""

from __future__ import annotations

from plugtone.inventory.document import Problem


class ServiceError(Exception):
    """A refusal; nothing was changed."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ServiceError):
    """The input breaks a field rule; ``problems`` name each field."""

    status = 422
    title = "Invalid input"

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        count = len(problems)
        super().__init__(message or f"{count} problem(s); nothing was changed")
        self.problems = problems


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Denied(ServiceError):
    """The caller's role does not allow this."""

    status = 403
    title = "Forbidden"


class Unauthenticated(ServiceError):
    status = 401
    title = "Unauthorized"


class Busy(ServiceError):
    """Another writer holds the store; the caller may try again."""

    status = 503
    title = "Store busy"
