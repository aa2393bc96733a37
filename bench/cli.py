"""One line, naming the key, for every config error that Hydra raises before a job runs.

Hydra prints composition errors over several lines (the error, OmegaConf's ``full_key``/``object_type``
block, a hint about HYDRA_FULL_ERROR) and other errors as tracebacks. ``one_line_errors`` wraps the
``@hydra.main`` entry point: it lets Hydra raise (HYDRA_FULL_ERROR) and prints Hydra's and OmegaConf's
errors as ``error: <key>=<value> is invalid, expected ...``; an interruption before a job's own handler is
set, and a write that failed for want of disk space (Hydra's ``multirun.yaml`` included), are one line too
(bench/shutdown.py). A user who sets HYDRA_FULL_ERROR=1 gets Hydra's full traceback as before.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from bench.shutdown import KEPT, disk_error

_FULL_ERROR = "HYDRA_FULL_ERROR"
_TYPES = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def _first_line(text: object) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def describe(error: BaseException) -> str:
    """A one-line description of a Hydra or OmegaConf error, naming the key when there is one."""
    cause = error if isinstance(error, OmegaConfBaseException) else error.__cause__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ValidationError) and key:
        value = getattr(cause, "value", None)
        converted = re.search(r"converted to (\w+)", str(cause))
        if value is None and "not Optional" in str(cause):
            expected = "a value (it may not be null)"
        elif converted:
            expected = _TYPES.get(converted.group(1), converted.group(1))
        else:
            expected = _first_line(cause)
        return f"{key}={value!r} is invalid, expected {expected}"
    if isinstance(cause, ConfigKeyError | AttributeError) and key:
        return f"{key} is not a key of this config (a misspelling? `python -m bench.run --cfg job` lists them)"
    if isinstance(error, MissingConfigException):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        options = [line for line in lines[2:] if not line.startswith(("Config search path", "provider="))]
        return lines[0].removeprefix("In 'config': ") + (f"; available: {', '.join(options)}" if options else "")
    if isinstance(error, OverrideParseException) and not str(error).startswith("cannot parse"):
        return f"cannot parse override {error.override!r}: {_first_line(error)}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip().strip("^")]
    message = "; ".join(lines[:2])
    return f"{message}: {_first_line(cause)}" if cause is not None and cause is not error else message


def one_line_errors(entry: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``@hydra.main`` function so that config errors end the process with one line on stderr."""

    @functools.wraps(entry)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if os.environ.get(_FULL_ERROR):
            return entry(*args, **kwargs)
        os.environ[_FULL_ERROR] = "1"
        try:
            return entry(*args, **kwargs)
        except (HydraException, OmegaConfBaseException) as error:
            raise SystemExit(f"error: {describe(error)}") from None
        except KeyboardInterrupt:
            raise SystemExit(f"error: interrupted; {KEPT}") from None
        except OSError as error:
            if disk_error(error) is None:
                raise
            raise SystemExit(f"error: {disk_error(error)}") from None
        finally:
            os.environ.pop(_FULL_ERROR, None)

    return wrapper
