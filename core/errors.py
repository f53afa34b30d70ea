"""The one input error: what a person or a client gave cannot be used, and ``field`` says which
part. Services, pure cores and parsers raise it; the API answers it as 400
``{"<field>": ["<message>"]}`` (portal.errors.api_exception_handler), pages show it beside the
field, and management commands print it as one line."""


class InputError(ValueError):
    """``field`` is a dotted path as the request spells it: ``alpha``, ``weights[2]``,
    ``variants[1].conversions``, ``params.day.value``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def within(self, prefix: str) -> "InputError":
        """The same error with its field nested under `prefix` (`n` → `variants[1].n`)."""
        return InputError(f"{prefix}.{self.field}", self.message)

    def rerooted(self, roots: dict[str, str]) -> "InputError":
        """The same error with the first path segment renamed (`control.n` → `variants[0].n`)."""
        root, dot, rest = self.field.partition(".")
        return InputError(roots.get(root, root) + dot + rest, self.message)


class LimitReached(Exception):
    """A person already uses as much of something as one may at a time (429): the API answers
    ``payload()`` as it is, numbers included (portal.errors.api_exception_handler)."""

    def payload(self) -> dict:
        return {"detail": str(self)}
