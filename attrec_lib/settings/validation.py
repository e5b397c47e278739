"""Type checks of config values, in one place for every frozen config dataclass.

The configs' own ``validate()`` methods check ranges and choices; they assume the values already
have the declared types. :func:`check_types` makes that true: a value from ``--set d=8.5``, a
papermill parameter or a JSON file must match its field's annotation, or one ``ValueError``
names the config, the field, the value and the expected type. Rules: ``bool`` is not an ``int``
(``epochs=true`` would otherwise train one epoch and cache a second result beside
``epochs=1``); an ``int`` is accepted where a ``float`` is declared; NaN and infinities are
rejected (a NaN weight trains a whole epoch before anything notices); strings are never converted
(``'8.5'`` is not an ``int``). A whole float where an ``int`` is declared (``d=100.0``) is the same
setting as the integer and is returned as it (so ``100`` and ``100.0`` give one run key); ``8.5`` is
an error.
"""
from __future__ import annotations

import dataclasses
import math
import numbers


def _expected(annotation) -> tuple:
    """The type names an annotation allows: ``"int"`` -> ("int",), ``"float | None"`` -> ("float", "None")."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return tuple(part.strip() for part in text.replace("Optional[", "").rstrip("]").split("|"))


def _fits(value, name: str) -> bool:
    if name == "None":
        return value is None
    if name == "bool":
        return isinstance(value, bool)
    if name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if name == "str":
        return isinstance(value, str)
    if name in ("tuple", "list", "dict"):
        return isinstance(value, {"tuple": tuple, "list": list, "dict": dict}[name])
    return True  # an annotation this check does not know: left to the config's validate()


_WORDS = {"int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a string",
          "None": "None", "tuple": "a tuple", "list": "a list", "dict": "a mapping"}


def _whole_float(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def check_types(config):
    """``config`` with whole floats in ``int`` fields made integers, when every field's value has
    its declared type; else ``ValueError`` naming the first field that does not."""
    whole = {f.name: int(getattr(config, f.name)) for f in dataclasses.fields(config)
             if "int" in _expected(f.type) and "float" not in _expected(f.type) and _whole_float(getattr(config, f.name))}
    if whole:
        config = dataclasses.replace(config, **whole)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        allowed = _expected(f.type)
        if not any(_fits(value, name) for name in allowed):
            wanted = " or ".join(_WORDS.get(name, name) for name in allowed)
            raise ValueError(f"{type(config).__name__}.{f.name} must be {wanted}, got {value!r} "
                             f"({type(value).__name__})")
    return config


def whole_number(value, what: str, minimum: int | None = None) -> int:
    """A parameter that must be a whole number (a papermill ``-p epochs 3`` arrives as 3, or as the
    string "3" from the command line): ``3``, ``3.0`` and ``"3"`` are 3; ``1.9``, ``"1.9"``,
    ``True`` and ``"x"`` are one ``ValueError`` naming ``what``; below ``minimum`` too."""
    number = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value!r}")
    return number


SEED_LIMIT = 2**32  # numpy's legacy seeding and every engine accept 0 <= seed < 2**32


def check_seed(seed, what: str = "seed") -> int:
    """``seed`` as an int when it is a whole number with 0 <= seed < 2**32; else one
    ``ValueError`` naming ``what`` (``--seed``, ``parameter seeds``): numpy's own message for
    -1 ("expected non-negative integer") names no setting."""
    if isinstance(seed, bool):
        number = None
    elif isinstance(seed, numbers.Integral):  # numpy's integers too
        number = int(seed)
    else:
        try:
            number = whole_number(seed, what)
        except ValueError:
            number = None
    if number is None or not 0 <= number < SEED_LIMIT:
        raise ValueError(f"{what} {seed} is out of range: a seed is a whole number with 0 <= seed < 2**32")
    return number
