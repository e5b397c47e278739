"""Table 2's models under the other splits of ``data.splits`` (pure builders; notebook 10).

Every model runs at the setting the study chose for it on the original (leave-last-out) data,
exactly as RQ1 is decided there (:func:`attrec_lib.study.rq1_specs`: the learned models' tuned
settings, the simple baselines' chosen trial, Pop), with only the spec's ``split`` changed. The
tuning is not redone under the new split: the question is whether the *same* models, compared
the same way, keep their order when the repeat shortcut or the view of the future is taken away.
"""
from __future__ import annotations

import dataclasses

from ..data.splits import FIRST_OCCURRENCE, global_time_split_name
from ..runs import store
from . import decisions, profiles

# LastFM is the only data set here with repeated (user, item) pairs (ML-100K, the ML-1M and
# MovieTweetings stand-ins have none: notebook 10), so the only one the no-repeat split changes.
NO_REPEAT_DATASETS = ("lastfm",)
TIMELINE_DATASETS = ("ml-100k", "lastfm")
TIMELINE_SPLIT = global_time_split_name()
# The seeds these runs use (of the table's 0, 1, 2): one, for the compute budget of a shared
# 2-core machine; None would be the table's seeds.
NO_REPEAT_SEEDS = None
TIMELINE_SEEDS = None
# Models left out of a rerun, by (split, data set): none (every model of Table 2 is rerun).
LEFT_OUT: dict = {}


def under_split(prof, split: str, datasets, seeds=None) -> list:
    """RQ1's runs on ``datasets`` (those of the profile's Table 2), with ``split`` set; ``seeds``
    narrows the seeded models' runs (a deterministic simple baseline keeps its one run)."""
    out = []
    for spec in decisions.rq1_specs(prof):
        if spec.dataset not in datasets:
            continue
        if seeds is not None and spec.model not in profiles.SIMPLE_BASELINES and spec.seed not in seeds:
            continue
        if spec.model in LEFT_OUT.get((split, spec.dataset), ()):
            continue
        out.append(dataclasses.replace(spec, split=split))
    return out


def _seeds(prof, seeds):
    return tuple(s for s in prof.seeds if seeds is None or s in seeds)


def no_repeat_specs(prof, seeds=NO_REPEAT_SEEDS) -> list:
    """LastFM's RQ1 runs with each (user, item) kept at its first occurrence."""
    return under_split(prof, FIRST_OCCURRENCE, NO_REPEAT_DATASETS, _seeds(prof, seeds))


def timeline_specs(prof, seeds=TIMELINE_SEEDS) -> list:
    """ML-100K's and LastFM's RQ1 runs on the global timeline (cut at the 80 % quantile of time)."""
    return under_split(prof, TIMELINE_SPLIT, TIMELINE_DATASETS, _seeds(prof, seeds))


def grid_specs(prof) -> list:
    """Both reruns, for ``all_specs``: only once every tuning trial of the profile is cached
    (their settings are the tunings' choices; the next ``grid`` call adds them then)."""
    if not (set(NO_REPEAT_DATASETS) | set(TIMELINE_DATASETS)) & set(prof.table2_datasets):
        return []
    trials = decisions.learned_trial_specs(prof) + decisions.simple_trial_specs(prof)  # what rq1_specs chooses from
    if any(store.load_result(s) is None for s in trials):
        return []
    return no_repeat_specs(prof) + timeline_specs(prof)
