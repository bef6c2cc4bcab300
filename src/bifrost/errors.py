"""The one exception type for refusals the user can act on; the API maps it to its 4xx status."""


class UserError(Exception):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
