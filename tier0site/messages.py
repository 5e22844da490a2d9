"""Decode a message body from a producer safely: the one JSON parser of every pipeline.

Whatever the bytes, ``parse_json_object`` returns a dict or raises
``InvalidMessage`` (whose text is the dead-letter reason), never anything else:
invalid UTF-8, nesting deep enough to exhaust Python's recursion, integers past
Python's digit limit, NaN/Infinity (not JSON; PostgreSQL's jsonb refuses them),
duplicate keys (ambiguous), and strings PostgreSQL cannot store (NUL, lone
surrogates) are all refused with a reason.
"""

import json
import math

MAX_DEPTH = 32  # real payloads nest 2-3 levels; PostgreSQL's parser must never reach its stack limit
_BOM = "\ufeff"


class InvalidMessage(ValueError):
    """The message cannot be stored; ``str(exc)`` is the dead-letter reason."""


def short(value, limit: int = 40) -> str:
    """A producer's value quoted for a reason: cut, and with control characters escaped."""
    return repr(str(value)[:limit])


def _no_duplicates(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise InvalidMessage(f"duplicate key {short(duplicate)}")
    return obj


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidMessage(f"number out of range {short(text)}")
    return value


def _refuse_constant(name: str):
    raise InvalidMessage(f"{name} is not a number JSON can carry")


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise InvalidMessage("NUL characters cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage("a string holds a lone UTF-16 surrogate") from None


def _inspect(document, *, check_strings: bool) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings PostgreSQL cannot store (iteratively: no recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidMessage(f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                if check_strings:
                    for key in value:
                        _check_string(key)
                value = value.values()
            stack.extend((item, depth + 1) for item in value)
        elif check_strings and isinstance(value, str):
            _check_string(value)


def _loads(text: str, finite_floats: bool):
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float if finite_floats else float,
        )
    except InvalidMessage:
        raise
    except RecursionError:
        raise InvalidMessage(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise InvalidMessage(str(exc)) from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise InvalidMessage(str(exc)[:120]) from None


def parse_json_object(raw: bytes, *, prefix: str = "", object_prefix: str = "", finite_floats: bool = True) -> tuple[dict, bool]:
    """The JSON object in ``raw`` and whether ``raw`` began with a UTF-8 byte-order mark (dropped).

    ``prefix`` starts the reason of a body that is not sound JSON, ``object_prefix``
    that of JSON that is not an object. ``finite_floats=False`` lets a number too
    large for a float (``1e999``) parse as infinity, for a caller that checks the
    numbers it uses (cheaper than a check per float).
    """
    try:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
        bom = text.startswith(_BOM)
        if bom:
            text = text[1:]
        document = _loads(text, finite_floats)
        if isinstance(document, dict | list):
            # Cheap bounds first: fewer brackets than the limit means no deep nesting,
            # and without escapes no string can hold NUL or a surrogate.
            deep = text.count("{") + text.count("[") > MAX_DEPTH
            escaped = "\\u" in text
            if deep or escaped:
                _inspect(document, check_strings=escaped)
    except InvalidMessage as exc:
        raise InvalidMessage(f"{prefix}{exc}") from None
    if not isinstance(document, dict):
        raise InvalidMessage(f"{object_prefix}payload must be a JSON object, not {type(document).__name__}")
    return document, bom
