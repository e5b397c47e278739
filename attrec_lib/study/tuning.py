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
``study.spec_for`` builds for that setting: it goes through ``experiments.run_grid`` like any run,
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
import hashlib
import itertools
import math
from dataclasses import dataclass

import numpy as np
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


@dataclass(frozen=True)
class Choice:
    """A value drawn uniformly from a finite list (the paper's grids are Choices)."""

    values: tuple

    def __post_init__(self):
        if not len(self.values):
            raise ValueError("Choice needs at least one value")

    def draw(self, rng: np.random.Generator):
        return self.values[int(rng.integers(len(self.values)))]


@dataclass(frozen=True)
class LogUniform:
    """A value drawn log-uniformly from [low, high], rounded to ``digits`` significant digits."""

    low: float
    high: float
    digits: int = 3  # significant digits kept (readable spec files, stable keys)

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got {self.low}, {self.high}")

    def draw(self, rng: np.random.Generator):
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return float(f"{value:.{self.digits}g}")


@dataclass(frozen=True)
class Budget:
    n_trials: int = 16  # settings tried per model and data set (the same for every model)
    epochs: int = 100  # epoch cap of every trial (issue 14: at least 100)
    patience: int = 10  # evaluations without validation improvement before a trial stops
    seed: int = 0  # seed of the draws and of every trial's run
    default_first: bool = True  # a trained model's trial 0 is its default setting (then n_trials draws)

    def validate(self) -> "Budget":
        for name, low in (("n_trials", 1), ("epochs", 1), ("patience", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"budget {name} must be >= {low}, got {getattr(self, name)!r}")
        return self

    def describe(self) -> str:
        """The number of trials in words, e.g. "the default and 8 drawn settings per trained model
        (the simple baselines: the 8 draws)"."""
        if not self.default_first:
            return f"{self.n_trials} drawn settings per model"
        return (f"the default and {self.n_trials} drawn settings per trained model (the simple baselines: "
                f"the {self.n_trials} draws)")

    def train(self) -> dict:
        """The TrainConfig fields every trial shares."""
        return {"epochs": self.epochs, "patience": self.patience}


def search_space(model: str) -> dict:
    """The model's ``SEARCH_SPACE`` (empty for a model with nothing to tune), checked."""
    from .. import models
    from ..training.train import TrainConfig
    space = models.search_space(model)
    model_fields = {f.name for f in dataclasses.fields(models.config_class(model))}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, dist in space.items():
        if not isinstance(dist, (Choice, LogUniform)):
            raise ValueError(f"{model}.SEARCH_SPACE[{key!r}] must be a Choice or a LogUniform, got {dist!r}")
        for name in (key if isinstance(key, tuple) else (key,)):
            if name.startswith("train."):
                if name[len("train."):] not in train_fields:
                    raise ValueError(f"{model}.SEARCH_SPACE: unknown training field {name!r}")
            elif name not in model_fields:
                raise ValueError(f"{model}.SEARCH_SPACE: unknown config field {name!r} "
                                 f"(fields: {sorted(model_fields)})")
            if name == "d":
                raise ValueError(f"{model}.SEARCH_SPACE searches d; d stays fixed at 100 for every model")
    return space


def widened(model: str) -> dict:
    """{parameter: (low, high)} of the ranges a model's search space had before they were widened
    because its choice sat on their edge (the model class's ``search_space_widened_from``)."""
    from .. import models
    return dict(getattr(models.model_class(model), "search_space_widened_from", {}))


def describe_space(model: str) -> str:
    """The model's search space in one readable line (for the notebooks)."""
    def one(dist):
        if isinstance(dist, Choice):
            return "{" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in dist.values) + "}"
        return f"log-uniform [{dist.low:g}, {dist.high:g}]"
    return "; ".join(f"{'/'.join(k) if isinstance(k, tuple) else k} in {one(d)}"
                     for k, d in search_space(model).items()) or "nothing to tune"


def _draw_seed(model: str, seed: int, fixed: dict | None = None) -> int:
    name = model if not fixed else f"{model}[{fixed_label(fixed)}]"
    return int.from_bytes(hashlib.sha256(f"{name}/{seed}".encode()).digest()[:8], "little")


def fixed_label(fixed: dict) -> str:
    """``{"omega": 0.2}`` -> ``"omega=0.2"`` (names a tuning with fields held fixed)."""
    return ",".join(f"{k}={v}" for k, v in sorted(fixed.items()))


def _free_space(model: str, fixed: dict | None) -> dict:
    """The model's space without the ``fixed`` keys (each must be one of its searched keys)."""
    space = search_space(model)
    unknown = sorted(set(fixed or ()) - set(space))
    if unknown:
        raise ValueError(f"{model}: fixed field(s) {unknown} are not in its search space {list(space)}")
    return {k: d for k, d in space.items() if k not in (fixed or {})}


def _grid_size(space: dict):
    if all(isinstance(d, Choice) for d in space.values()):
        return math.prod(len(d.values) for d in space.values())
    return None


def draw_settings(model: str, n_trials: int, seed: int = 0, fixed: dict | None = None) -> list[dict]:
    """``n_trials`` distinct settings ({key: value}) of the model's space, in draw order.

    A finite grid with no more than ``n_trials`` points is enumerated whole (a model with an
    empty space has exactly one setting: its defaults). ``fixed``: those keys leave the space
    (the caller sets them) and the draws get their own seed.
    """
    space = _free_space(model, fixed)
    keys = list(space)
    size = _grid_size(space)
    if size is not None and size <= n_trials:
        return [dict(zip(keys, combo)) for combo in itertools.product(*(space[k].values for k in keys))]
    rng = np.random.default_rng(_draw_seed(model, seed, fixed))
    out, seen = [], set()
    for _ in range(1000 * n_trials):
        setting = {k: space[k].draw(rng) for k in keys}
        marker = tuple(setting[k] for k in keys)
        if marker not in seen:
            seen.add(marker)
            out.append(setting)
            if len(out) == n_trials:
                return out
    raise RuntimeError(f"{model}: could not draw {n_trials} distinct settings from its search space")


def split_setting(setting: dict) -> tuple[dict, dict]:
    """(model config overrides, TrainConfig overrides) of one setting."""
    model_part, train_part = {}, {}
    for key, value in setting.items():
        for name in (key if isinstance(key, tuple) else (key,)):
            if name.startswith("train."):
                train_part[name[len("train."):]] = value
            else:
                model_part[name] = value
    return model_part, train_part


def has_default_trial(model: str) -> bool:
    """Whether the model's trial 0 is its default setting: the trained models (the simple
    baselines have no paper setting and no untuned row to lose to)."""
    from .. import models
    from ..models.base import FittedRecommender
    return not issubclass(models.model_class(model), FittedRecommender)


def setting_of(spec, keys) -> dict:
    """The values a spec has for the search space ``keys`` (a tuple key: its first field's value)."""
    def value(name):
        return spec.train_config[name[len("train."):]] if name.startswith("train.") else spec.model_config[name]
    return {key: value(key[0] if isinstance(key, tuple) else key) for key in keys}


def _trial_spec(prof, dataset: str, model: str, budget: Budget, setting: dict | None, fixed: dict):
    """The run spec of one trial: ``setting`` None is the default (only ``fixed`` set)."""
    from . import specs as study
    model_part, train_part = split_setting(setting or {})
    return study.spec_for(prof, dataset, model, budget.seed, train={**budget.train(), **train_part},
                          **{**fixed, **model_part})


def _trials(prof, dataset: str, model: str, budget: Budget, fixed: dict | None = None) -> list[tuple[dict, object]]:
    """(setting, run spec) of each of the model's trials on ``dataset``: the default first (see
    the module docstring), then the draws in draw order."""
    budget, fixed = budget.validate(), dict(fixed or {})
    draws = draw_settings(model, budget.n_trials, budget.seed, fixed)
    out = [(s, _trial_spec(prof, dataset, model, budget, s, fixed)) for s in draws]
    if not (budget.default_first and has_default_trial(model)):
        return out
    default = _trial_spec(prof, dataset, model, budget, None, fixed)
    if any(spec.key == default.key for _, spec in out):  # drawn already: draw one more in its place
        more = draw_settings(model, budget.n_trials + 1, budget.seed, fixed)
        out = [(s, _trial_spec(prof, dataset, model, budget, s, fixed)) for s in more]
        out = [(s, spec) for s, spec in out if spec.key != default.key][:budget.n_trials]
    return [(setting_of(default, _free_space(model, fixed)), default)] + out


def trial_specs(prof, dataset: str, model: str, budget: Budget, fixed: dict | None = None) -> list:
    """The run specs of the model's trials on ``dataset``, in trial order (default first)."""
    return [spec for _, spec in _trials(prof, dataset, model, budget, fixed)]


def edge_flags(trials: pd.DataFrame, model: str, chosen: int, fixed: dict | None = None) -> list[str]:
    """One line per continuous parameter (a :class:`LogUniform`) whose chosen value is the largest
    or the smallest value its trials tried: the best may lie beyond what was tried. ``trials`` is
    :func:`tune`'s frame, ``chosen`` its row position."""
    out = []
    for key, dist in _free_space(model, fixed).items():
        if not isinstance(dist, LogUniform):
            continue
        column = trials["/".join(key) if isinstance(key, tuple) else key]
        value = column.iloc[chosen]
        for bound, tried in (("largest", column.max()), ("smallest", column.min())):
            if value == tried and column.nunique() > 1:
                out.append(f"{column.name}={value:g} is the {bound} value tried "
                           f"(range [{dist.low:g}, {dist.high:g}])")
    return out


def choose(trials: pd.DataFrame) -> int:
    """Row position of the best trial: highest validation HR@50, the first one on ties."""
    if trials.empty:
        raise ValueError("no trials to choose from")
    values = trials[choice_column(trials, "the tuning")].to_numpy()
    return int(np.flatnonzero(values == values.max())[0])


def tune(prof, dataset: str, model: str, budget: Budget, progress: bool = False, fixed: dict | None = None) -> dict:
    """Run (or read from the cache) every trial and return the choice.

    Returns ``{"spec": chosen RunSpec, "setting": its values, "trials": one row per trial
    (setting, whether it is the default, validation and test metrics), "chosen": row position}``.
    """
    from ..runs.store import run_grid
    settings, specs = map(list, zip(*_trials(prof, dataset, model, budget, fixed)))
    df = run_grid(specs, progress=progress).reset_index(drop=True)
    best = choose(df)
    shown = pd.DataFrame([{("/".join(k) if isinstance(k, tuple) else k): v for k, v in s.items()} for s in settings])
    metrics = df[[c for c in ("valid_hr@50", "valid_mrr", "epoch", "epochs_run", "hr@50", "mrr") if c in df]]
    trials = pd.concat([shown, metrics.rename(columns={"hr@50": "test_hr@50 (not used)",
                                                       "mrr": "test_mrr (not used)"})], axis=1)
    with_default = budget.default_first and has_default_trial(model)
    trials.insert(0, "default", [with_default and i == 0 for i in range(len(trials))])
    trials.insert(0, "trial", range(len(trials)))
    trials.insert(0, "model", model if not fixed else f"{model}[{fixed_label(fixed)}]")
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
