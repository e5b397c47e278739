"""The equal-budget search on validation: every model tuned alike, each trial an ordinary cached run.

Each model file defines ``SEARCH_SPACE`` next to its config: a dict from a model config field (or
``"train.<field>"`` for a ``TrainConfig`` field such as the learning rate, or a tuple of fields
that take one shared value) to a :class:`Choice` or :class:`LogUniform`. d is never searched (the
paper's fairness rule: d = 100 for every model).

The budget (:class:`Budget`) is the same for every model on a data set: ``n_trials`` settings
drawn from the model's space with a seeded generator (the seed depends on the model's name and the
budget's seed only, so adding a model or a data set changes no other model's draws; every data set
sees the same settings), each trained with the same epoch cap and patience (simple models are
fitted once per trial: they have nothing to train). A trial is the run spec that
``builders.spec_for`` builds for that setting: it goes through ``grid.run_grid`` like any run,
so it is keyed, cached, resumable and runs on whichever engine ``run_grid`` uses.

A trained model's trial 0 is its default setting (the paper's, or the one its own code uses: its
untuned Table 2 row, here under the tuning's epoch cap), then come the draws; a draw equal to the
default is skipped and one more is drawn, so every trained model gets ``1 + n_trials`` distinct
settings and the tuning can never choose worse, on validation, than leaving the model untuned. The
simple baselines (nothing trained) have no paper setting and no untuned row: their trials are the
draws. ``fixed`` tunes a model with some of its searched fields held at one value (AttRec with
omega fixed: the same kinds of knobs as the baselines); its draws have their own seed.

The chosen setting is the trial with the best validation HR@50 (ties: the first trial, so the
default wins a tie). Test metrics are carried beside the choice for reporting and never read by it.

Why not Ray Tune's own trial runner: its results live in its own experiment folders, outside the
run cache (a re-run retrains, and a table cannot find a trial by its spec); its early-stopping
schedulers make which trials get more epochs depend on the order in which workers finish, so two
runs of the same search can differ; and every learned model already stops on its own validation
patience. Trials as cached runs give the same bits for the same spec on any engine.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..engines import grid
from ..models.distributions import LogGrid, LogUniform
from ..rules import selection
from . import builders, spaces
from .profiles import Budget


def _trial_spec(prof, dataset: str, model: str, budget: Budget, setting: dict | None, fixed: dict):
    """The run spec of one trial: ``setting`` None is the default (only ``fixed`` set)."""
    model_part, train_part = spaces.split_setting(setting or {})
    return builders.spec_for(prof, dataset, model, budget.seed, train={**budget.train(), **train_part},
                          **{**fixed, **model_part})


def _trials(prof, dataset: str, model: str, budget: Budget, fixed: dict | None = None) -> list[tuple[dict, object]]:
    """(setting, run spec) of each of the model's trials on ``dataset``: the default first (see
    the module docstring), then the draws in draw order."""
    budget, fixed = budget.validate(), dict(fixed or {})
    draws = spaces.draw_settings(model, budget.n_trials, budget.seed, fixed)
    out = [(s, _trial_spec(prof, dataset, model, budget, s, fixed)) for s in draws]
    if not (budget.default_first and spaces.has_default_trial(model)):
        return out
    default = _trial_spec(prof, dataset, model, budget, None, fixed)
    if any(spec.key == default.key for _, spec in out):  # drawn already: draw one more in its place
        more = spaces.draw_settings(model, budget.n_trials + 1, budget.seed, fixed)
        out = [(s, _trial_spec(prof, dataset, model, budget, s, fixed)) for s in more]
        out = [(s, spec) for s, spec in out if spec.key != default.key][:budget.n_trials]
    return [(spaces.setting_of(default, spaces._free_space(model, fixed)), default)] + out


def trial_specs(prof, dataset: str, model: str, budget: Budget, fixed: dict | None = None) -> list:
    """The run specs of the model's trials on ``dataset``, in trial order (default first)."""
    return [spec for _, spec in _trials(prof, dataset, model, budget, fixed)]


def edge_flags(trials: pd.DataFrame, model: str, chosen: int, fixed: dict | None = None) -> list[str]:
    """One line per continuous parameter (a :class:`LogUniform` or a :class:`LogGrid`) whose chosen
    value is the largest or the smallest value its trials tried: the best may lie beyond what was
    tried. ``trials`` is :func:`tune`'s frame, ``chosen`` its row position."""
    out = []
    for key, dist in spaces._free_space(model, fixed).items():
        if not isinstance(dist, (LogUniform, LogGrid)):
            continue
        column = trials["/".join(key) if isinstance(key, tuple) else key]
        value = column.iloc[chosen]
        for bound, tried in (("largest", column.max()), ("smallest", column.min())):
            if value == tried and column.nunique() > 1:
                out.append(f"{column.name}={value:g} is the {bound} value tried "
                           f"(range [{dist.low:g}, {dist.high:g}])")
    return out


def choose(trials: pd.DataFrame) -> int:
    """Row position of the best trial (one run each): :func:`selection.best` over the trials in
    the order they were drawn, so a tie goes to the earlier trial (the default, where trial 0 is it)."""
    if trials.empty:
        raise ValueError("no trials to choose from")
    return int(selection.best(trials.assign(_trial=np.arange(len(trials))), "_trial", "the tuning"))


def tune(prof, dataset: str, model: str, budget: Budget, progress: bool = False, fixed: dict | None = None) -> dict:
    """Run (or read from the cache) every trial and return the choice.

    Returns ``{"spec": chosen RunSpec, "setting": its values, "trials": one row per trial
    (setting, whether it is the default, validation and test metrics), "chosen": row position}``.
    """
    settings, specs = map(list, zip(*_trials(prof, dataset, model, budget, fixed)))
    df = grid.run_grid(specs, progress=progress).reset_index(drop=True)
    best = choose(df)
    shown = pd.DataFrame([{("/".join(k) if isinstance(k, tuple) else k): v for k, v in s.items()} for s in settings])
    metrics = df[[c for c in ("valid_hr@50", "valid_mrr", "epoch", "epochs_run", "hr@50", "mrr") if c in df]]
    trials = pd.concat([shown, metrics.rename(columns={"hr@50": "test_hr@50 (not used)",
                                                       "mrr": "test_mrr (not used)"})], axis=1)
    with_default = budget.default_first and spaces.has_default_trial(model)
    trials.insert(0, "default", [with_default and i == 0 for i in range(len(trials))])
    trials.insert(0, "trial", range(len(trials)))
    trials.insert(0, "model", model if not fixed else f"{model}[{spaces.fixed_label(fixed)}]")
    trials.insert(0, "dataset", dataset)
    return {"spec": specs[best], "setting": settings[best], "trials": trials, "chosen": best,
            "default": with_default and best == 0}


def chosen_runs(prof, dataset: str, model: str, budget: Budget, seeds, on: str | None = None,
                fixed: dict | None = None) -> list:
    """The chosen setting's runs, one per seed (for the learned models' tuned rows of Table 2; the
    chosen trial itself is one of them when ``budget.seed`` is among ``seeds``). ``on``: the setting
    chosen on ``dataset`` run on that other data set instead (its own L, T and regulariser; the
    default chosen there runs as that data set's default)."""
    chosen = tune(prof, dataset, model, budget, fixed=fixed)
    spec = chosen["spec"]
    if on is not None:
        spec = _trial_spec(prof, on, model, budget, None if chosen["default"] else chosen["setting"], dict(fixed or {}))
    return [dataclasses.replace(spec, seed=int(s)) for s in seeds]
