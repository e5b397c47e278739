"""What a reader sees instead of the study's internal names: data sets, models and p-values.

One place for the words the README and the notebooks' generated prose use (in the analysis layer, so
that findings.py and the report layer above it share it):

- :func:`dataset_name`: ``"ml-100k"`` -> ``"ML-100K"``, ``"ml-1m-first2999"`` -> ``"ML-1M stand-in
  (users 1-2999)"``, ``"movietweetings-snapshot-100k"`` -> ``"MovieTweetings stand-in"``: the paper's
  name of a set from the registry; a stand-in named after the set it stands in for;
- :func:`model_name`: the model registry's label (``"lstm_plus"`` -> ``"LSTM+"``); a label passes
  through unchanged;
- :func:`p_text`: ``"p = 0.70"``, ``"p = 0.003"``, ``"p < 0.001"``;
- :func:`dataset_names`: every data set name inside a free text replaced by its display name;
- :func:`readable_names`: every data set name inside a free text (a verdict set label such as
  ``"lastfm L=3"``) replaced by its display name (``"LastFM at L = 3"``).
"""
from __future__ import annotations

import math
import re

from .. import models
from ..data import registry

# What a stand-in covers of the set it stands in for, where the name alone would mislead.
STAND_IN_SCOPE = {"ml-1m-first2999": "users 1-2999"}

P_FLOOR = 0.001  # below this a p-value is written "p < 0.001"
NEAR_ALPHA = (0.045, 0.055)  # p-values here keep three decimals, so none reads "0.05" on either side


def dataset_name(name) -> str:
    """The name a reader sees for data set ``name``; an unregistered name as it is."""
    name = str(name)
    try:
        spec = registry.get_spec(name)
    except ValueError:
        return name
    if spec.is_stand_in:
        paper = registry.REGISTRY.get(spec.stand_in_for)
        base = paper.paper_name if paper is not None and paper.paper_name else spec.stand_in_for
        scope = STAND_IN_SCOPE.get(name)
        return f"{base} stand-in ({scope})" if scope else f"{base} stand-in"
    return spec.paper_name or spec.name


def model_name(name) -> str:
    """The model registry's label of ``name`` ("lstm_plus" -> "LSTM+"); anything else as it is."""
    return models.LABELS.get(str(name), str(name))


def p_value(p) -> str:
    """A p-value's number as a reader sees it: two decimals from 0.01 up ("0.70", "1.00"), three
    below ("0.003") and near 0.05 (0.049 is not written "0.05"), "< 0.001" below 0.001; a missing
    p as "–"."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a p-value lies in [0, 1], got {p}")
    if p < P_FLOOR:
        return f"< {P_FLOOR:g}"
    if p >= 0.01 and not NEAR_ALPHA[0] <= p < NEAR_ALPHA[1]:
        return f"{p:.2f}"
    return f"{p:.3f}"


def p_text(p) -> str:
    """``"p = 0.70"``, ``"p = 0.003"``, ``"p < 0.001"`` (see :func:`p_value`)."""
    value = p_value(p)
    return "p " + (value if value.startswith("<") else f"= {value}")


def _names_pattern() -> re.Pattern:
    # Longest first, so "ml-1m-first2999" is not read as "ml-1m" followed by text.
    names = sorted((s for s in registry.REGISTRY), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])")


def dataset_names(text) -> str:
    """``text`` with every registered data set name replaced by :func:`dataset_name` (nothing else)."""
    return _names_pattern().sub(lambda m: dataset_name(m.group(1)), str(text))


def readable_names(text) -> str:
    """``text`` with every registered data set name replaced by :func:`dataset_name`, and the
    verdict's set suffixes ``L=3`` / ``d=100`` written ``at L = 3`` / ``at d = 100``."""
    return re.sub(r"\b([Ld])=(\d+)\b", r"at \1 = \2", dataset_names(text))


def share(value: float, digits: int = 1) -> str:
    """A percentage: ``89.81`` -> ``"89.8%"``."""
    return f"{float(value):.{digits}f}%"
