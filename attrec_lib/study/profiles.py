"""The study's profiles (how much of the study a build runs) and its groups of models.

Profiles
--------
``full``   the published profile (the committed notebooks): every data set present (paper sets,
           else the labelled stand-ins), 3 seeds for the tables and for every sweep point (an sd
           band in Figures 4 and 5), the paper's sweep points, every learned model tuned on
           ML-100K and LastFM, Figure 4 also on the MovieTweetings stand-in, Figure 5 on the
           paper's two sets.
``standard`` the paper's sets present, the ML-1M stand-in (users 1-2999 of ML-1M) in Table 2 only
           (every model, default settings), one seed per sweep point, fewer d values, the learned
           models tuned on ML-100K and LastFM (see :func:`_standard`).
``quick``  ML-100K only, one seed, fewer epochs and sweep points.
``tiny``   the synthetic planted data set with tiny models: checks that every notebook runs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import models
from ..data import is_available
from ..data.registry import PAPER_DATASETS, SYNTHETIC, ablation_replacement, dataset_names, get_spec, paper_set
from ..settings import paper_numbers
from ..settings.validation import check_seed, whole_number
from . import spaces


@dataclass(frozen=True)
class Budget:
    n_trials: int = 16  # settings tried per model and data set (the same for every model)
    epochs: int = 100  # epoch cap of every trial
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


# Baselines of the paper's Table 2, then ours beyond the paper (Pop, SASRec, and the simple
# non-neural baselines, tuned on validation), then AttRec.
PAPER_BASELINES = tuple(m for m in paper_numbers.TABLE2_MODELS if m != "attrec")


SIMPLE_BASELINES = ("itemknn", "ease", "sr", "sknn")  # nothing trained: one deterministic fit per setting


EXTRA_BASELINES = tuple(m for m in models.model_names() if m not in paper_numbers.TABLE2_MODELS)


ALL_MODELS = PAPER_BASELINES + EXTRA_BASELINES + ("attrec",)


# What Table 2 runs on a profile's light data sets: AttRec with the paper's settings, the
# popularity floor and the simple baselines (a fit each, no training). The learned baselines are
# what the full profile adds there.
LIGHT_MODELS = ("pop", *SIMPLE_BASELINES, "attrec")


# The trained models: each has a search space next to its config (Pop has nothing to tune).
LEARNED_MODELS = tuple(m for m in ALL_MODELS if m not in SIMPLE_BASELINES and models.search_space(m))


MODEL_LABELS = models.LABELS  # the model registry's labels, for the notebooks


# Paper sets (with their stand-ins) left out of the standard profile's ablations, sweeps and
# tuning: five times the cost per run. Their stand-ins are in its Table 2, every model at default settings.
STANDARD_LEAVES_OUT = ("ml-1m",)


AGGREGATIONS = ("mean", "sum", "max", "min")


@dataclass(frozen=True)
class Profile:
    name: str
    datasets: tuple  # Table 2 data sets
    ablation_datasets: tuple  # Tables 3-5, Figures 3-5
    seeds: tuple  # seeds of the tables (Tables 2-4)
    sweep_seeds: tuple  # seeds of the sweeps (Figures 4-5)
    epochs: int  # epoch cap of every run
    patience: int  # evaluations without validation improvement before stopping
    omegas: tuple  # Figure 4a
    seq_lens: tuple  # Figure 4b
    dims: tuple  # Figure 5
    dim_models: tuple  # models of Figure 5
    overrides: dict = field(default_factory=dict)  # config fields set in every run of a model that has them (tiny: d)
    dim_datasets: tuple | None = None  # Figure 5 data sets (None: the ablation data sets)
    figure4_datasets: tuple | None = None  # Figure 4's omega and L sweeps (None: the ablation data sets)
    tuning: Budget = Budget()  # the equal budget of every tuned model (trials, cap, patience)
    tie_order_datasets: tuple | None = None  # data sets of the tie-order comparison (None: Table 2's)
    tie_order_seeds: tuple | None = None  # seeds of the tie-order comparison (None: the table seeds)
    light_datasets: tuple = ()  # further Table 2 data sets where only LIGHT_MODELS run
    tuned_models: tuple = ()  # learned models tuned on validation under ``tuning`` (Table 2's tuned rows)
    tuned_datasets: tuple = ()  # where they are tuned
    # (data set, source) pairs: the data set's tuned rows reuse the setting each model's tuning chose
    # on the source (one of tuned_datasets), with no trials of their own (compute too short to tune there)
    tuned_from: tuple = ()
    # (model, ((field, value), ...)) pairs: the model tuned again on tuned_datasets with those searched
    # fields held fixed (AttRec with omega = 0.2: the same kinds of knobs as the baselines); shown
    # beside its full-space tuning, never in its place
    tuned_fixed: tuple = ()

    def __post_init__(self):
        for name in (*self.datasets, *self.ablation_datasets, *(self.dim_datasets or ()),
                     *(self.figure4_datasets or ()), *self.light_datasets,
                     *self.tuned_datasets):
            get_spec(name)  # an unknown data set raises, naming it
        for dataset, source in self.tuned_from:
            get_spec(dataset)
            if source not in self.tuned_datasets:
                raise ValueError(f"profile {self.name!r}: tuned_from takes {dataset!r}'s settings from {source!r}, "
                                 f"which is not among its tuned_datasets {self.tuned_datasets}")
        for model in self.tuned_models:
            if model in SIMPLE_BASELINES or not models.search_space(model):
                raise ValueError(f"profile {self.name!r}: {model!r} is not a learned model with a search space")
        for model, fixed in self.tuned_fixed:
            if model not in self.tuned_models:
                raise ValueError(f"profile {self.name!r}: tuned_fixed names {model!r}, which is not among its "
                                 f"tuned_models {self.tuned_models}")
            spaces.draw_settings(model, 1, fixed=dict(fixed))  # a field outside its space raises, naming it
        for key in self.overrides:
            if not any(key in models.config_fields(m) for m in models.model_names()):
                raise ValueError(f"profile {self.name!r}: override {key!r} is not a config field of any model")

    @property
    def table2_datasets(self) -> tuple:
        """Every data set of Table 2: the fully run ones, then the light ones."""
        return self.datasets + tuple(d for d in self.light_datasets if d not in self.datasets)

    def table2_models(self, dataset: str, model_names=None) -> tuple:
        """The models Table 2 runs on ``dataset`` (among ``model_names``, default every model)."""
        names = ALL_MODELS if model_names is None else tuple(model_names)
        return tuple(m for m in names if dataset not in self.light_datasets or m in LIGHT_MODELS)

    @property
    def tuned_row_datasets(self) -> tuple:
        """Every data set with tuned rows: the tuned ones, then those reusing another's settings."""
        return self.tuned_datasets + tuple(d for d, _ in self.tuned_from if d not in self.tuned_datasets)

    @property
    def sweep_datasets(self) -> tuple:
        """The data sets of Figure 4's omega and L sweeps."""
        return self.ablation_datasets if self.figure4_datasets is None else self.figure4_datasets

    @property
    def figure5_datasets(self) -> tuple:
        return self.ablation_datasets if self.dim_datasets is None else self.dim_datasets


def _present(names) -> tuple:
    return tuple(n for n in names if is_available(n))


def _ablation_sets(papers=paper_numbers.ABLATION_DATASETS) -> tuple:
    """The paper's ablation sets (or ``papers``) where present; otherwise what the registry runs in
    their place."""
    chosen = []
    for paper in papers:
        pick = paper if is_available(paper) else ablation_replacement(paper)
        if pick and pick not in chosen and is_available(pick):
            chosen.append(pick)
    return tuple(chosen)


# The full and standard profiles' budget: the model's default setting is trial 0, then 7 draws, so
# no learned model is tuned to below its own default on validation.
TUNING_BUDGET = Budget(n_trials=8, default_first=True)


# AttRec's second tuning: its space with omega held at the paper's 0.2, so that its knobs are the kinds the
# baselines have (regularisation, dropout) and notebook 01 shows what tuning omega adds.
OMEGA_FIXED_TUNING = (("attrec", (("omega", 0.2),)),)

PAPER_OMEGAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # the paper's tuning grid of omega


PAPER_SEQ_LENS = (1, 2, 3, 5, 7, 9)


def _full() -> Profile:
    # Every learned model tuned on ML-100K, LastFM and the MovieTweetings stand-in (its runs are cheap).
    tuned, ablation = _present(("ml-100k", "lastfm", "movietweetings-snapshot-100k")), _ablation_sets()
    return Profile(name="full", datasets=_present(dataset_names()), ablation_datasets=ablation,
                   seeds=(0, 1, 2), sweep_seeds=(0, 1, 2), epochs=40, patience=5, omegas=PAPER_OMEGAS,
                   seq_lens=PAPER_SEQ_LENS, dims=(10, 25, 50, 100),  # up to the paper's d = 100
                   dim_models=tuple(m for m in ALL_MODELS if m not in SIMPLE_BASELINES),
                   dim_datasets=_ablation_sets(paper_numbers.FIGURE5_DATASETS),  # the paper's two (or stand-ins)
                   # Figure 4 also on the MovieTweetings stand-in (a fourth set, as the paper's four)
                   figure4_datasets=ablation + tuple(d for d in _present(("movietweetings-snapshot-100k",))
                                                     if d not in ablation),
                   tuned_models=LEARNED_MODELS, tuned_datasets=tuned, tuned_fixed=OMEGA_FIXED_TUNING,
                   # The standard profile's budget, the same for every model; notebook 01's budget
                   # curve shows how the comparison moves from 1 trial to all of them.
                   tuning=TUNING_BUDGET,
                   # On the ML-1M stand-in, whose trials would cost most, every learned model runs the
                   # setting its ML-100K tuning chose (tables label those rows "chosen on ML-100K").
                   tuned_from=((("ml-1m-first2999", "ml-100k"),)
                               if _present(("ml-1m-first2999",)) and "ml-100k" in tuned else ()),
                   # The tie-order comparison on ML-100K and LastFM, 3 seeds (not on the ML-1M stand-in,
                   # where its LSTM+, SASRec and Caser runs would cost most).
                   tie_order_datasets=_present(("ml-100k", "lastfm")), tie_order_seeds=(0, 1, 2))


def _standard() -> Profile:
    # What one 2-core machine finishes in a few hours. Figure 5 leaves out LSTM+ and SASRec here
    # (on a CPU they cost 5-10x an AttRec epoch) and runs on ML-100K only (the paper's Figure 5:
    # ML-100K and Garden).
    def kept(names):
        return tuple(d for d in names if paper_set(d) not in STANDARD_LEAVES_OUT)
    ablation = kept(_ablation_sets())
    table2_only = tuple(d for d in _present(dataset_names()) if paper_set(d) in STANDARD_LEAVES_OUT)
    return Profile(name="standard", datasets=kept(_present(PAPER_DATASETS)) + table2_only, ablation_datasets=ablation,
                   seeds=(0, 1, 2), sweep_seeds=(0,), epochs=40, patience=5, omegas=PAPER_OMEGAS,
                   seq_lens=PAPER_SEQ_LENS, dims=(25, 100),
                   dim_models=("pop", "bprmf", "fmc", "fpmc", "hrm", "prme", "transrec", "caser", "attrec"),
                   dim_datasets=("ml-100k",) if "ml-100k" in ablation else None,
                   # Two cores' worth (the full profile has the rest): Figure 5 at d = 25 and 100
                   # (full: 10-100), and the tie-order comparison on LastFM only, where ties
                   # dominate, with one seed (full: ML-100K and LastFM, 3 seeds).
                   tuning=TUNING_BUDGET,
                   tie_order_datasets=tuple(d for d in ("lastfm",) if d in ablation), tie_order_seeds=(0,),
                   # Every learned model tuned alike on ML-100K and LastFM (the simple baselines'
                   # budget), as in the full profile.
                   tuned_models=LEARNED_MODELS, tuned_datasets=tuple(d for d in ("ml-100k", "lastfm") if d in ablation),
                   tuned_fixed=OMEGA_FIXED_TUNING)


def _quick() -> Profile:
    return Profile(name="quick", datasets=_present(("ml-100k",)), ablation_datasets=_present(("ml-100k",)),
                   seeds=(0,), sweep_seeds=(0,), epochs=12, patience=3, omegas=(0.0, 0.2, 0.6, 1.0),
                   seq_lens=(1, 3, 5, 8), dims=(25, 100), dim_models=("bprmf", "fpmc", "caser", "attrec"),
                   tuning=Budget(n_trials=4, epochs=12, patience=3))


def _tiny() -> Profile:
    return Profile(name="tiny", datasets=(SYNTHETIC,), ablation_datasets=(SYNTHETIC,), seeds=(0,),
                   sweep_seeds=(0,), epochs=2, patience=0, omegas=(0.2, 1.0), seq_lens=(2, 3), dims=(8, 12),
                   dim_models=("pop", "attrec"), overrides={"d": 8},
                   tuning=Budget(n_trials=2, epochs=2, patience=0),
                   tuned_models=("bprmf", "attrec"), tuned_datasets=(SYNTHETIC,))


_PROFILE_BUILDERS = {"full": _full, "standard": _standard, "quick": _quick, "tiny": _tiny}


PROFILES = tuple(_PROFILE_BUILDERS)


def _as_tuple(value, what: str, kind) -> tuple | None:
    """A papermill parameter as a tuple: ``-p seeds 12`` arrives as the string "12" (one seed, not
    seeds 1 and 2), ``-p datasets ml-100k`` as one name; "0,1,2" is three. None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    out = []
    for item in value:
        if kind is int:
            try:
                if isinstance(item, bool) or (isinstance(item, float) and not item.is_integer()):
                    raise ValueError
                item = int(item)
            except (TypeError, ValueError):
                raise ValueError(f"parameter {what}: {item!r} is not an integer seed; give e.g. 0 or "
                                 f"\"0,1,2\"") from None
            item = check_seed(item, f"parameter {what}:")
        elif not isinstance(item, str) or not item:
            raise ValueError(f"parameter {what}: {item!r} is not a data set name")
        out.append(item)
    if not out:
        raise ValueError(f"parameter {what} is empty; give e.g. {'0' if kind is int else 'ml-100k'}")
    return tuple(out)


def profile(name: str = "full", datasets=None, seeds=None, epochs=None) -> Profile:
    """A named profile, optionally narrowed (the notebooks' papermill parameters)."""
    if name not in _PROFILE_BUILDERS:
        raise ValueError(f"unknown profile {name!r}; known profiles: {list(PROFILES)}")
    base = _PROFILE_BUILDERS[name]()
    datasets, seeds = _as_tuple(datasets, "datasets", str), _as_tuple(seeds, "seeds", int)
    changes = {}
    if datasets is not None:
        changes["light_datasets"] = tuple(d for d in base.light_datasets if d in datasets)
        changes["datasets"] = tuple(d for d in datasets if d not in changes["light_datasets"])
        changes["ablation_datasets"] = tuple(datasets)
        changes["tuned_datasets"] = tuple(d for d in base.tuned_datasets if d in datasets)
        changes["tuned_from"] = tuple((d, src) for d, src in base.tuned_from
                                      if d in datasets and src in changes["tuned_datasets"])
        if base.dim_datasets is not None:
            changes["dim_datasets"] = tuple(d for d in base.dim_datasets if d in datasets) or tuple(datasets)
        if base.figure4_datasets is not None:
            changes["figure4_datasets"] = tuple(d for d in base.figure4_datasets if d in datasets) or tuple(datasets)
        if base.tie_order_datasets is not None:
            changes["tie_order_datasets"] = tuple(d for d in base.tie_order_datasets if d in datasets)
    if seeds is not None:
        changes["seeds"] = changes["sweep_seeds"] = tuple(seeds)
    if epochs is not None:
        changes["epochs"] = whole_number(epochs, "parameter epochs", minimum=1)
    return dataclasses.replace(base, **changes)


# Models that read a user's items as a set, not a sequence: the floor a sequential signal must beat.
NON_SEQUENTIAL = ("pop", "bprmf")


# Data sets whose whole Table 2 is rerun with the order inside ties taken away; on the others
# AttRec, the TIE_ORDER_STRONGEST strongest baselines and the non-sequential models are rerun.
# LastFM: 90 % of its consecutive pairs are tied, in artist-id order (notebook 00).
TIE_ORDER_ALL_MODELS = ("lastfm",)


TIE_ORDER_STRONGEST = 3


TIE_ORDER_RULES = ("stable", "shuffled")


def available_models(names=ALL_MODELS) -> tuple:
    known = set(models.model_names())
    return tuple(m for m in names if m in known)
