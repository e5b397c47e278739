"""The study's one selection rule: every choice reads validation metrics only."""
from __future__ import annotations

import pandas as pd


# What every choice of the study reads (tuning here; the strongest baseline, best omega, L,
# aggregation, d in tables.py, verdict.py, findings.py): mean validation HR@50 of the
# validation-selected epoch. Never a test metric.
CHOICE_METRIC = "valid_hr@50"


def choice_column(df: pd.DataFrame, what: str) -> str:
    """:data:`CHOICE_METRIC`, after checking that every row of ``df`` has it (released-protocol
    runs have no validation item and cannot take part in a choice); ``what`` names the choice."""
    if CHOICE_METRIC not in df.columns or df[CHOICE_METRIC].isna().any():
        raise ValueError(f"{what} chooses on {CHOICE_METRIC}, which some runs lack (released protocol runs "
                         "have no validation item and cannot take part in a choice)")
    return CHOICE_METRIC
