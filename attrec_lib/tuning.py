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

The chosen setting is the trial with the best validation HR@50 (ties: the first trial in draw
order). Test metrics are carried beside the choice for reporting and never read by it.

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

    def validate(self) -> "Budget":
        for name, low in (("n_trials", 1), ("epochs", 1), ("patience", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"budget {name} must be >= {low}, got {getattr(self, name)!r}")
        return self

    def train(self) -> dict:
        """The TrainConfig fields every trial shares."""
        return {"epochs": self.epochs, "patience": self.patience}


def search_space(model: str) -> dict:
    """The model's ``SEARCH_SPACE`` (empty for a model with nothing to tune), checked."""
    from . import models
    from .train import TrainConfig
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


def describe_space(model: str) -> str:
    """The model's search space in one readable line (for the notebooks)."""
    def one(dist):
        if isinstance(dist, Choice):
            return "{" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in dist.values) + "}"
        return f"log-uniform [{dist.low:g}, {dist.high:g}]"
    return "; ".join(f"{'/'.join(k) if isinstance(k, tuple) else k} in {one(d)}"
                     for k, d in search_space(model).items()) or "nothing to tune"


def _draw_seed(model: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{model}/{seed}".encode()).digest()[:8], "little")


def _grid_size(space: dict):
    if all(isinstance(d, Choice) for d in space.values()):
        return math.prod(len(d.values) for d in space.values())
    return None


def draw_settings(model: str, n_trials: int, seed: int = 0) -> list[dict]:
    """``n_trials`` distinct settings ({key: value}) of the model's space, in draw order.

    A finite grid with no more than ``n_trials`` points is enumerated whole (a model with an
    empty space has exactly one setting: its defaults).
    """
    space = search_space(model)
    keys = list(space)
    size = _grid_size(space)
    if size is not None and size <= n_trials:
        return [dict(zip(keys, combo)) for combo in itertools.product(*(space[k].values for k in keys))]
    rng = np.random.default_rng(_draw_seed(model, seed))
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


def _trials(prof, dataset: str, model: str, budget: Budget) -> list[tuple[dict, object]]:
    """(setting, run spec) of each of the model's trials on ``dataset``, in draw order."""
    from . import study
    budget = budget.validate()
    out = []
    for setting in draw_settings(model, budget.n_trials, budget.seed):
        model_part, train_part = split_setting(setting)
        out.append((setting, study.spec_for(prof, dataset, model, budget.seed,
                                            train={**budget.train(), **train_part}, **model_part)))
    return out


def trial_specs(prof, dataset: str, model: str, budget: Budget) -> list:
    """The run specs of the model's trials on ``dataset``, in draw order."""
    return [spec for _, spec in _trials(prof, dataset, model, budget)]


def choose(trials: pd.DataFrame) -> int:
    """Row position of the best trial: highest validation HR@50, the first one on ties."""
    if trials.empty:
        raise ValueError("no trials to choose from")
    values = trials[choice_column(trials, "the tuning")].to_numpy()
    return int(np.flatnonzero(values == values.max())[0])


def tune(prof, dataset: str, model: str, budget: Budget, progress: bool = False) -> dict:
    """Run (or read from the cache) every trial and return the choice.

    Returns ``{"spec": chosen RunSpec, "setting": its drawn values, "trials": one row per trial
    (setting, validation and test metrics), "chosen": row position}``.
    """
    from .experiments import run_grid
    settings, specs = map(list, zip(*_trials(prof, dataset, model, budget)))
    df = run_grid(specs, progress=progress).reset_index(drop=True)
    best = choose(df)
    shown = pd.DataFrame([{("/".join(k) if isinstance(k, tuple) else k): v for k, v in s.items()} for s in settings])
    metrics = df[[c for c in ("valid_hr@50", "valid_mrr", "epoch", "epochs_run", "hr@50", "mrr") if c in df]]
    trials = pd.concat([shown, metrics.rename(columns={"hr@50": "test_hr@50 (not used)",
                                                       "mrr": "test_mrr (not used)"})], axis=1)
    trials.insert(0, "trial", range(len(trials)))
    trials.insert(0, "model", model)
    trials.insert(0, "dataset", dataset)
    return {"spec": specs[best], "setting": settings[best], "trials": trials, "chosen": best}


def chosen_runs(prof, dataset: str, model: str, budget: Budget, seeds, on: str | None = None) -> list:
    """The chosen setting's runs, one per seed (for the learned models' tuned rows of Table 2; the
    chosen trial itself is one of them when ``budget.seed`` is among ``seeds``). ``on``: the setting
    chosen on ``dataset`` run on that other data set instead (its own L, T and regulariser)."""
    chosen = tune(prof, dataset, model, budget)
    spec = chosen["spec"] if on is None else _trials(prof, on, model, budget)[chosen["chosen"]][1]
    return [dataclasses.replace(spec, seed=int(s)) for s in seeds]
