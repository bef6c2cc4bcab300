"""Domain errors: what went wrong, in words the user can act on, with no HTTP in sight.

Every layer (store, workspace, cache, packages, worker) raises these; ``api/errors.py`` maps each
class to its HTTP status in one place, and the CLI or a script just prints ``str(exc)``::

    BifrostError          something the user can act on; ``str(exc)`` says what to do
    ├── NotFound          the thing named does not exist
    ├── Conflict          the current state forbids it (a compare-and-swap lost, a path taken)
    ├── InvalidInput      the request itself is wrong (a bad path, requirement or option)
    ├── TooLarge          over a configured size limit
    ├── Unavailable       a back end (Redis, the queue, the installer) cannot be reached now
    └── Inconsistent      stored data contradicts itself; an operator has to repair it
"""

from __future__ import annotations


class BifrostError(Exception):
    """Base of the domain errors; ``message`` is the user-facing text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BifrostError):
    """The file, workflow, execution or package named does not exist."""


class Conflict(BifrostError):
    """The request is valid but the current state forbids it; reading again may help."""


class InvalidInput(BifrostError):
    """The request is wrong in itself; the message says what to change."""


class TooLarge(BifrostError):
    """Over a size limit; the message names the limit and its setting."""


class Unavailable(BifrostError):
    """A back end this needs cannot be reached now; trying again later may work."""


class Inconsistent(BifrostError):
    """Stored data contradicts itself (a row whose object is missing): not the user's fault."""
