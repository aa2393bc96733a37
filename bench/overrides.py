"""A one-line error that says how to quote, when Hydra's lexer rejects a value such as ``subject#``.

Hydra reads unquoted override values with a grammar that has no ``#``, spaces or non-ASCII letters, and
its error (``LexerNoViableAltException`` with a caret under the character) does not say that quoting the
value fixes it. Importing this module wraps Hydra's override parser so that, for such values only, the
error is one line naming the override and the quoted form to type. Every other error is Hydra's own.
"""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException


def needs_quotes(value: str) -> bool:
    """True when the value holds a character Hydra only reads inside quotes: ``#``, a space, non-ASCII."""
    return any(ch == "#" or ch.isspace() or not ch.isascii() for ch in value) and not (
        value[:1] in "'\"" and value[-1:] == value[:1])


def _quoted(value: str) -> str:
    """``subject#`` -> ``'subject#'``; in a flat list, each item: ``[a b,c]`` -> ``['a b','c']``."""
    if value.startswith("[") and value.endswith("]") and not any(c in value[1:-1] for c in "[]{}"):
        return "[" + ",".join(_quoted(item.strip()) for item in value[1:-1].split(",")) + "]"
    return value if value[:1] in "'\"[{" else f"'{value}'"


def quoting_hint(override: str) -> str:
    key, _, value = override.partition("=")
    return (f"cannot parse override {override!r}: Hydra reads a value with '#', spaces or non-ASCII characters "
            f"only in quotes, and the shell needs its own quotes around them: \"{key}={_quoted(value)}\"")


def _parse_overrides(self: OverridesParser, overrides: list[str]) -> list:
    try:
        return _hydra_parse_overrides(self, overrides)
    except OverrideParseException as error:
        _, _, value = error.override.partition("=")
        if not needs_quotes(value):
            raise
        raise OverrideParseException(error.override, quoting_hint(error.override)) from None


if getattr(OverridesParser.parse_overrides, "__module__", "") != __name__:
    _hydra_parse_overrides = OverridesParser.parse_overrides
    OverridesParser.parse_overrides = _parse_overrides
