"""The study's experiment plan: profiles, and the specs of each paper artifact.

Notebooks call these builders so that no two notebooks spell out the same grid, and a run
shared by two artifacts (AttRec with default settings appears in Tables 2, 3 and 4) has one
spec and is computed once. Per-data-set facts (the paper's L, T and regulariser, which paper set
a stand-in replaces) come from the data registry (``data/registry.py``), model facts from the
model registry (``models/__init__.py``), the paper's numbers from ``paper_numbers.py``.

Profiles
--------
``full``   every data set present (paper sets, else the labelled stand-ins), 3 seeds for the
           tables and for every sweep point (an sd band in Figures 4 and 5), the paper's sweep
           points, every learned model tuned on ML-100K and LastFM (the ML-1M stand-in takes
           ML-100K's choices), Figure 4 also on the MovieTweetings stand-in, Figure 5 on the
           paper's two sets.
``standard`` what the committed notebooks were built with on 2 cores: the paper's sets present,
           the ML-1M stand-in (users 1-2999 of ML-1M, five times the cost per run) in Table 2 only
           (every model, default settings: about 4 core-hours), one seed per sweep
           point, fewer d values, the learned models tuned on ML-100K and LastFM, 8 settings each (see
           :func:`_standard`).
``quick``  ML-100K only, one seed, fewer epochs and sweep points (about 10 minutes on 2 cores).
``tiny``   the synthetic planted data set with tiny models: checks that every notebook runs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..runs import store as experiments
from .. import models
from ..settings import paper_numbers
from . import tuning
from ..data import is_available
from ..data.registry import (PAPER_DATASETS, SYNTHETIC, ablation_replacement, dataset_names, get_spec, paper_set, run_settings)
from ..runs.store import RunSpec, make_spec
from ..settings.validation import whole_number

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
    tuning: tuning.Budget = tuning.Budget()  # the equal budget of every tuned model (trials, cap, patience)
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
            tuning.draw_settings(model, 1, fixed=dict(fixed))  # a field outside its space raises, naming it
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


# The full and standard profiles' budget. default_first stays off until the default settings'
# trials (one per learned model and tuned data set, issue 26) are in the cache.
TUNING_BUDGET = tuning.Budget(n_trials=8, default_first=False)

PAPER_OMEGAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # the paper's tuning grid of omega
PAPER_SEQ_LENS = (1, 2, 3, 5, 7, 9)


def _full() -> Profile:
    tuned, ablation = _present(("ml-100k", "lastfm")), _ablation_sets()
    return Profile(name="full", datasets=_present(dataset_names()), ablation_datasets=ablation,
                   seeds=(0, 1, 2), sweep_seeds=(0, 1, 2), epochs=40, patience=5, omegas=PAPER_OMEGAS,
                   seq_lens=PAPER_SEQ_LENS, dims=(10, 25, 50, 100),  # up to the paper's d = 100 (150: ~1.4 core-hours more)
                   dim_models=tuple(m for m in ALL_MODELS if m not in SIMPLE_BASELINES),
                   dim_datasets=_ablation_sets(paper_numbers.FIGURE5_DATASETS),  # the paper's two (or stand-ins)
                   # Figure 4 also on the MovieTweetings stand-in (a fourth set, as the paper's four)
                   figure4_datasets=ablation + tuple(d for d in _present(("movietweetings-snapshot-100k",))
                                                     if d not in ablation),
                   tuned_models=LEARNED_MODELS, tuned_datasets=tuned,
                   # Per model and data set the default setting and 8 draws, as the standard profile: 16
                   # draws would add 160 trials, ~4 core-hours by the plan's estimate (issue 26), for a
                   # budget that is the same for every model either way; notebook 01's budget curve shows
                   # how the comparison moves from 1 trial to all of them.
                   tuning=TUNING_BUDGET,
                   # No tuned rows on the ML-1M stand-in: with ML-100K's choices (tuned_from=(("ml-1m-first2999",
                   # "ml-100k"),)) its 30 runs at the tuning's 100-epoch cap would cost ~5 core-hours by the
                   # plan (SASRec 1.3 h; tuned, it ran ~73 epochs on ML-100K and an ML-1M-stand-in epoch costs
                   # ~5x), two thirds of the rest of this profile; its Table 2 compares every model at
                   # default settings.
                   # the tie-order comparison on the two tuned sets, 3 seeds (on the ML-1M stand-in its
                   # LSTM+, SASRec and Caser runs alone would cost ~2 core-hours)
                   tie_order_datasets=tuned, tie_order_seeds=(0, 1, 2))


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
                   # Every learned model tuned alike on ML-100K and LastFM (8 settings each, the
                   # simple baselines' budget; about 3 h on 2 cores per data set), as in the full profile.
                   tuned_models=LEARNED_MODELS, tuned_datasets=tuple(d for d in ("ml-100k", "lastfm") if d in ablation))


def _quick() -> Profile:
    return Profile(name="quick", datasets=_present(("ml-100k",)), ablation_datasets=_present(("ml-100k",)),
                   seeds=(0,), sweep_seeds=(0,), epochs=12, patience=3, omegas=(0.0, 0.2, 0.6, 1.0),
                   seq_lens=(1, 3, 5, 8), dims=(25, 100), dim_models=("bprmf", "fpmc", "caser", "attrec"),
                   tuning=tuning.Budget(n_trials=4, epochs=12, patience=3))


def _tiny() -> Profile:
    return Profile(name="tiny", datasets=(SYNTHETIC,), ablation_datasets=(SYNTHETIC,), seeds=(0,),
                   sweep_seeds=(0,), epochs=2, patience=0, omegas=(0.2, 1.0), seq_lens=(2, 3), dims=(8, 12),
                   dim_models=("pop", "attrec"), overrides={"d": 8},
                   tuning=tuning.Budget(n_trials=2, epochs=2, patience=0),
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


def spec_for(prof: Profile, dataset: str, model: str, seed: int = 0, train: dict | None = None, *,
             tie_rule: str | None = None, **overrides) -> RunSpec:
    """The spec of one run: the model's ``paper`` preset + the data set's paper settings and the
    profile's overrides (each where the model has that field) + ``overrides``, which must be
    fields of the model: a misspelt one raises, naming it. ``train`` sets TrainConfig fields (the
    profile's epoch cap and patience by default); ``tie_rule`` None: the preset's (stable)."""
    fields = models.config_fields(model)
    shared = {k: v for k, v in {**run_settings(dataset), **prof.overrides}.items() if k in fields}
    return make_spec(dataset, model, "paper", seed=seed, tie_rule=tie_rule,
                     train={"epochs": prof.epochs, "patience": prof.patience, **(train or {})},
                     **{**shared, **overrides})


def table2_specs(prof: Profile, model_names=ALL_MODELS) -> list:
    """Every model's runs per data set; a simple baseline contributes its tuned run (which runs its
    trials first, see :func:`simple_baseline_spec`)."""
    return [spec for ds in prof.table2_datasets for m in prof.table2_models(ds, model_names)
            for spec in ([simple_baseline_spec(prof, ds, m)] if m in SIMPLE_BASELINES
                         else [spec_for(prof, ds, m, s) for s in prof.seeds])]


def simple_baseline_spec(prof: Profile, dataset: str, model: str) -> RunSpec:
    """The tuned run of a simple baseline: its trial with the best validation HR@50 under the
    profile's budget. The simple models are deterministic (no seed enters their fit), so the chosen
    trial (seed ``prof.tuning.seed``) is the table's run; more seeds would repeat its numbers."""
    return tuning.tune(prof, dataset, model, prof.tuning)["spec"]


def simple_trial_specs(prof: Profile) -> list:
    """Every trial of the simple baselines' tuning on the Table 2 data sets (nothing is run)."""
    return [spec for ds in prof.table2_datasets for m in available_models(SIMPLE_BASELINES)
            for spec in tuning.trial_specs(prof, ds, m, prof.tuning)]


def _choices(prof: Profile, datasets, tunings, with_epochs: bool):
    """Per data set and tuning ((model, fixed fields or None) pairs): the budget, the chosen
    setting, whether it is the default, the edge flags (:func:`tuning.edge_flags`) and its
    validation HR@50, with the chosen trial's test HR@50 beside (never used to choose)."""
    import pandas as pd
    rows, labels = [], tuning_labels(prof)
    for ds in datasets:
        for m, fixed in tunings:
            tuned = tuning.tune(prof, ds, m, prof.tuning, fixed=fixed)
            best = tuned["trials"].iloc[tuned["chosen"]]
            row = {"dataset": ds, "model": labels.get(tuning_name(m, fixed), m), "trials": len(tuned["trials"]),
                   "chosen setting": ", ".join(f"{'/'.join(k) if isinstance(k, tuple) else k}={v}"
                                               for k, v in tuned["setting"].items()),
                   "chosen is": "default" if tuned["default"] else f"draw {tuned['chosen']}",
                   "edge": "; ".join(tuning.edge_flags(tuned["trials"], m, tuned["chosen"], fixed)) or "-",
                   "valid HR@50": best["valid_hr@50"], "test HR@50 (not used)": best["test_hr@50 (not used)"]}
            if with_epochs:
                row["epochs run"] = best["epochs_run"]
            rows.append(row)
    return pd.DataFrame(rows)


def simple_baseline_choices(prof: Profile):
    """Per Table 2 data set and simple baseline: its tuning's choice (:func:`_choices`)."""
    return _choices(prof, prof.table2_datasets, [(m, None) for m in available_models(SIMPLE_BASELINES)],
                    with_epochs=False)


def learned_trial_specs(prof: Profile) -> list:
    """Every trial of the learned models' tuning (the profile's ``tuned_models`` on its
    ``tuned_datasets``, under its budget, then its ``tuned_fixed`` tunings); nothing is run."""
    return [spec for ds in prof.tuned_datasets for m, fixed in tunings(prof)
            for spec in tuning.trial_specs(prof, ds, m, prof.tuning, fixed)]


def tunings(prof: Profile) -> list:
    """(model, fixed fields or None) of every tuning the profile runs: each tuned model over its
    whole space, then the ``tuned_fixed`` ones (:func:`fixed_tunings`)."""
    return [(m, None) for m in available_models(prof.tuned_models)] + fixed_tunings(prof)


def fixed_tunings(prof: Profile) -> list:
    """(model, {field: value}) of the profile's ``tuned_fixed`` tunings of available models."""
    return [(m, dict(fixed)) for m, fixed in prof.tuned_fixed if m in available_models(prof.tuned_models)]


def tuning_name(model: str, fixed: dict | None) -> str:
    """The name a tuning's rows carry in the ``model`` column: the model's, or e.g.
    ``attrec[omega=0.2]`` for a tuning with fields held fixed."""
    return model if not fixed else f"{model}[{tuning.fixed_label(fixed)}]"


def tuning_labels(prof: Profile) -> dict:
    """:data:`MODEL_LABELS` plus a readable label for each ``tuned_fixed`` tuning."""
    extra = {tuning_name(m, dict(f)): f"{MODEL_LABELS.get(m, m)} ({', '.join(f'{k} fixed at {v}' for k, v in f)})"
             for m, f in prof.tuned_fixed}
    return {**MODEL_LABELS, **extra}


def _tuned_row_sources(prof: Profile) -> list:
    """(data set, where its settings are chosen) of every data set with tuned rows."""
    return [(ds, ds) for ds in prof.tuned_datasets] + list(prof.tuned_from)


def _trials_cached(prof: Profile, dataset: str, model: str, fixed: dict | None = None) -> bool:
    return all(experiments.load_result(s) is not None
               for s in tuning.trial_specs(prof, dataset, model, prof.tuning, fixed))


def tuned_table2_specs(prof: Profile, cached_only: bool = False) -> list:
    """Table 2's tuned rows: each tuned model's chosen setting (best validation HR@50 of its
    trials) with the table's seeds, on its data set or, for ``tuned_from``, on the data set that
    takes another's choice. The choice needs every trial's result, so this runs the missing
    trials; ``cached_only`` leaves out a model whose trials are not all cached instead."""
    out = []
    for ds, source in _tuned_row_sources(prof):
        for m in available_models(prof.tuned_models):
            if cached_only and not _trials_cached(prof, source, m):
                continue
            out += tuning.chosen_runs(prof, source, m, prof.tuning, prof.seeds, on=None if ds == source else ds)
    return out


def fixed_tuned_specs(prof: Profile, cached_only: bool = False) -> list:
    """The rows of the ``tuned_fixed`` tunings (e.g. AttRec with omega fixed at 0.2): the setting
    each chose on a tuned data set, with the table's seeds. Shown beside the full-space tuned rows,
    never in RQ1. ``cached_only`` as in :func:`tuned_table2_specs`."""
    return [spec for ds in prof.tuned_datasets for m, fixed in fixed_tunings(prof)
            if not (cached_only and not _trials_cached(prof, ds, m, fixed))
            for spec in tuning.chosen_runs(prof, ds, m, prof.tuning, prof.seeds, fixed=fixed)]


def fixed_tuned_rows(prof: Profile):
    """The runs of :func:`fixed_tuned_specs` (run_grid rows), each ``model`` named by its tuning
    (:func:`tuning_name`, e.g. ``attrec[omega=0.2]``) so tables keep it apart from the full-space rows."""
    import pandas as pd
    parts = []
    for ds in prof.tuned_datasets:
        for m, fixed in fixed_tunings(prof):
            specs = tuning.chosen_runs(prof, ds, m, prof.tuning, prof.seeds, fixed=fixed)
            parts.append(experiments.run_grid(specs, progress=False).assign(model=tuning_name(m, fixed)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def pending_tuned_rows(prof: Profile) -> int:
    """How many tuned-row runs the plan cannot list yet (their model's trials are not all cached,
    so the setting is not chosen): at most this many more once the trials ran."""
    full = sum(not _trials_cached(prof, source, m) for _, source in _tuned_row_sources(prof)
               for m in available_models(prof.tuned_models))
    fixed = sum(not _trials_cached(prof, ds, m, f) for ds in prof.tuned_datasets
                for m, f in fixed_tunings(prof))
    return len(prof.seeds) * (full + fixed)


def tuned_trials(prof: Profile):
    """Every trial of every tuning of the profile, one row each: data set, model (its tuning's
    label), trial position, whether it is the default, whether it was chosen, its setting, its
    validation HR@50 and its test HR@50 beside (never used to choose)."""
    import pandas as pd
    labels, parts = tuning_labels(prof), []
    for ds in prof.tuned_datasets:
        for m, fixed in tunings(prof):
            tuned = tuning.tune(prof, ds, m, prof.tuning, fixed=fixed)
            trials = tuned["trials"]
            keys = [k for k in trials.columns if k not in ("dataset", "model", "trial", "default", "valid_hr@50",
                                                           "valid_mrr", "epoch", "epochs_run", "test_hr@50 (not used)",
                                                           "test_mrr (not used)")]
            parts.append(pd.DataFrame({
                "dataset": ds, "model": labels.get(tuning_name(m, fixed), m), "trial": trials["trial"],
                "default": trials["default"].map({True: "default", False: ""}),
                "chosen": ["chosen" if i == tuned["chosen"] else "" for i in range(len(trials))],
                "setting": [", ".join(f"{k}={row[k]:g}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in keys)
                            for _, row in trials.iterrows()],
                "valid HR@50": trials["valid_hr@50"], "test HR@50 (not used)": trials["test_hr@50 (not used)"]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def tuned_choices(prof: Profile):
    """Per tuned data set and learned model: its tuning's choice and the epochs it ran."""
    return _choices(prof, prof.tuned_datasets, tunings(prof), with_epochs=True)


def rq1_specs(prof: Profile) -> list:
    """The runs RQ1 is decided on: Table 2's, with each tuned model's untuned runs replaced by its
    tuned ones where the profile tunes it (AttRec included: every model tuned alike)."""
    tuned = {(ds, m) for ds in prof.tuned_row_datasets for m in available_models(prof.tuned_models)}
    kept = [s for s in table2_specs(prof, available_models()) if (s.dataset, s.model) not in tuned]
    return kept + tuned_table2_specs(prof)


def released_specs(prof: Profile) -> list:
    """AttRec as the authors' code runs it (released preset and protocol) on ML-100K."""
    if "ml-100k" not in prof.datasets:
        return []
    return [make_spec("ml-100k", "attrec", "released_code", seed=s, train={"epochs": 40, "patience": 0},
                      **prof.overrides) for s in prof.seeds]


def tuned_omega(prof: Profile, dataset: str) -> float:
    """The omega of Figure 4a's sweep with the best mean *validation* HR@50 (the paper tuned
    omega in {0, 0.2, ..., 1} on the validation item); ties go to the smaller omega."""
    sweep = [s for s in omega_specs(prof) if s.dataset == dataset]
    if not sweep:
        raise ValueError(f"{dataset} has no omega sweep in profile {prof.name}")
    df = experiments.run_grid(sweep, progress=False)
    means = df.groupby("cfg.omega")["valid_hr@50"].mean()
    return float(means[means == means.max()].index.min())


def tuned_specs(prof: Profile) -> list:
    """AttRec with omega tuned on the validation item, for every Table 2 data set that has an
    omega sweep; where the tuned omega is the default these are Table 2's own runs."""
    return [spec_for(prof, ds, "attrec", s, omega=tuned_omega(prof, ds))
            for ds in prof.datasets if ds in prof.sweep_datasets for s in prof.seeds]


def code_settings_specs(prof: Profile) -> list:
    """AttRec with the released code's model settings under the honest protocol (validation item
    held out, validation-selected epoch, stable ties): separates the code's settings from its
    test-set selection."""
    if "ml-100k" not in prof.datasets:
        return []
    return [make_spec("ml-100k", "attrec", "released_code", seed=s, protocol="valid", tie_rule="stable",
                      train={"epochs": prof.epochs, "patience": prof.patience}, **prof.overrides)
            for s in prof.seeds]


def gap_specs(prof) -> list:
    """AttRec's ``paper`` preset on ML-100K under the released protocol and tie rule (no
    validation item; the authors' tie rule), with the headline runs' training settings: the runs
    that isolate step (b) of :func:`verdict.paper_gap`."""
    if "ml-100k" not in prof.datasets:
        return []
    head = spec_for(prof, "ml-100k", "attrec", prof.seeds[0])
    return [make_spec("ml-100k", "attrec", None, seed=s, protocol="released", tie_rule="released",
                                  train=dict(head.train_config), **head.model_config) for s in prof.seeds]


def table3_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, self_attention=flag)
            for ds in prof.ablation_datasets for flag in (True, False) for s in prof.seeds]


def table4_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, aggregation=agg)
            for ds in prof.ablation_datasets for agg in AGGREGATIONS for s in prof.seeds]


def omega_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, omega=w)
            for ds in prof.sweep_datasets for w in prof.omegas for s in prof.sweep_seeds]


def seq_len_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, seq_len=L)
            for ds in prof.sweep_datasets for L in prof.seq_lens for s in prof.sweep_seeds]


def dim_specs(prof: Profile) -> list:
    """Figure 5: every model at every d; a model without a latent dimension (Pop) is one run."""
    specs = []
    for ds in prof.figure5_datasets:
        for m in prof.dim_models:
            if "d" in models.config_fields(m):
                specs += [spec_for(prof, ds, m, s, d=d) for d in prof.dims for s in prof.sweep_seeds]
            else:
                specs += [spec_for(prof, ds, m, s) for s in prof.sweep_seeds]
    return specs


def runtime_specs(prof: Profile) -> list:
    """The models of the paper's Table 5 on the ablation sets (their seconds per epoch)."""
    return [spec_for(prof, ds, m, prof.seeds[0]) for ds in prof.ablation_datasets for m in paper_numbers.TABLE5_MODELS]


def figure3_spec(prof: Profile) -> RunSpec:
    """The run whose attention maps make Figure 3: AttRec, first ablation set, first seed."""
    return spec_for(prof, prof.ablation_datasets[0], "attrec", prof.seeds[0])


def figure3_specs(prof: Profile) -> list:
    """Figure 3's runs: :func:`figure3_spec` (the paper's ML-100K), then AttRec on the ML-1M
    stand-in where the profile has it among its ablation sets (the full profile)."""
    first = figure3_spec(prof)
    return [first] + [spec_for(prof, ds, "attrec", prof.seeds[0]) for ds in prof.ablation_datasets
                      if ds != first.dataset and paper_set(ds) == "ml-1m"]


# --- how much of each result is the order of tied timestamps (notebook 09) --------------------

# Models that read a user's items as a set, not a sequence: the floor a sequential signal must beat.
NON_SEQUENTIAL = ("pop", "bprmf")
# Data sets whose whole Table 2 is rerun with the order inside ties taken away; on the others
# AttRec, the TIE_ORDER_STRONGEST strongest baselines and the non-sequential models are rerun.
# LastFM: 90 % of its consecutive pairs are tied, in artist-id order (notebook 00).
TIE_ORDER_ALL_MODELS = ("lastfm",)
TIE_ORDER_STRONGEST = 3
TIE_ORDER_RULES = ("stable", "shuffled")


def strongest_baselines(prof: Profile, dataset: str, n: int = TIE_ORDER_STRONGEST, cached_only: bool = False):
    """The ``n`` learned baselines with the best mean *validation* HR@50 of their Table 2 (stable) runs,
    best first (ties: Table 2's model order). ``cached_only``: None instead of running what the
    cache lacks."""
    specs = [s for s in learned_table2_specs(prof) if s.dataset == dataset and s.model != "attrec"]
    if cached_only and any(experiments.load_result(s) is None for s in specs):
        return None
    means = experiments.run_grid(specs, progress=False).groupby("model", sort=False)["valid_hr@50"].mean()
    return tuple(means.sort_values(ascending=False, kind="stable").index[:n])


def tie_order_models(prof: Profile, dataset: str, cached_only: bool = False):
    """The models of the tie-order comparison on ``dataset``, in Table 2's order (None: the
    strongest baselines are not known yet and ``cached_only`` is set)."""
    if dataset in TIE_ORDER_ALL_MODELS:  # the learned models and Pop (the simple ones are not part of it)
        return available_models(tuple(m for m in ALL_MODELS if m not in SIMPLE_BASELINES))
    strongest = strongest_baselines(prof, dataset, cached_only=cached_only)
    if strongest is None:
        return None
    return available_models(tuple(m for m in ALL_MODELS if m in {"attrec", *strongest, *NON_SEQUENTIAL}))


def tie_order_specs(prof: Profile, rule: str, cached_only: bool = False) -> list:
    """The tie-order comparison's runs under ``rule``: "stable" (Table 2's own runs) or "shuffled"
    (the same runs with each tied block in a random order; the order's seed is the run's seed, so
    the seed-to-seed spread includes the spread over orders)."""
    from ..data.preprocess import shuffled_tie_rule
    if rule not in TIE_ORDER_RULES:
        raise ValueError(f"rule must be one of {TIE_ORDER_RULES}, got {rule!r}")
    out = []
    for ds in prof.datasets if prof.tie_order_datasets is None else prof.tie_order_datasets:
        for m in tie_order_models(prof, ds, cached_only) or ():
            out += [spec_for(prof, ds, m, s, tie_rule=None if rule == "stable" else shuffled_tie_rule(s))
                    for s in (prof.seeds if prof.tie_order_seeds is None else prof.tie_order_seeds)]
    return out


def _tie_order_grid_specs(prof: Profile) -> list:
    """Both rules, for ``all_specs``: data sets whose strongest baselines need uncached Table 2
    runs are left out (the next ``grid`` call, or notebook 09, adds them)."""
    return [s for rule in TIE_ORDER_RULES for s in tie_order_specs(prof, rule, cached_only=True)]


def _tuned_grid_specs(prof: Profile) -> list:
    """Table 2's tuned rows, for ``all_specs``: a model whose trials are not all cached is left out
    (``execution.fill_profile`` adds it after the trials ran)."""
    return tuned_table2_specs(prof, cached_only=True) + fixed_tuned_specs(prof, cached_only=True)


def available_models(names=ALL_MODELS) -> tuple:
    known = set(models.model_names())
    return tuple(m for m in names if m in known)


def learned_table2_specs(prof: Profile) -> list:
    """Table 2's runs of the learned models (the simple ones enter a plan through their trials)."""
    return table2_specs(prof, available_models(tuple(m for m in ALL_MODELS if m not in SIMPLE_BASELINES)))


def _parts() -> dict:
    """The groups of runs a profile needs, by name, in order of importance (``grid --part``)."""
    return {"table2": learned_table2_specs, "simple-trials": simple_trial_specs, "tuning-trials": learned_trial_specs,
            "released": lambda p: released_specs(p) + code_settings_specs(p) + gap_specs(p),
            "table3": table3_specs, "table4": table4_specs, "figure4": lambda p: omega_specs(p) + seq_len_specs(p),
            "figure5": dim_specs, "table5": runtime_specs, "tie-order": _tie_order_grid_specs,
            "tuned": _tuned_grid_specs}


PARTS = tuple(_parts())


def all_specs(prof: Profile, parts=None) -> list:
    """Every run the notebooks of a profile need, each once, in order of importance: Table 2 first
    (its learned models, then the simple baselines' trials), the learned models' tuning trials,
    the released-code runs, Tables 3-4, Figure 4, Figure 5, Table 5, the tie-order comparison, the
    tuned models' chosen settings. ``parts``: only these groups (names of :data:`PARTS`)."""
    builders = _parts()
    unknown = sorted(set(parts or ()) - set(builders))
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; known parts: {list(PARTS)}")
    seen, out = set(), []
    for name, build in builders.items():
        if parts is not None and name not in parts:
            continue
        for spec in build(prof):
            if spec.key not in seen:
                seen.add(spec.key)
                out.append(spec)
    return out


__all__ = ["all_specs", "PARTS", "PROFILES", "Profile", "profile", "spec_for", "table2_specs", "released_specs",
           "tuned_specs", "code_settings_specs", "table3_specs", "table4_specs", "omega_specs", "seq_len_specs",
           "dim_specs", "runtime_specs", "figure3_spec", "available_models", "ALL_MODELS", "PAPER_BASELINES",
           "EXTRA_BASELINES", "SIMPLE_BASELINES", "LIGHT_MODELS", "MODEL_LABELS", "AGGREGATIONS", "simple_baseline_spec",
           "simple_trial_specs", "simple_baseline_choices", "learned_trial_specs", "tuned_table2_specs",
           "tuned_choices", "tuned_trials", "tunings", "fixed_tuned_specs", "fixed_tuned_rows", "tuning_name", "tuning_labels", "rq1_specs", "LEARNED_MODELS", "gap_specs", "NON_SEQUENTIAL", "tie_order_specs",
           "tie_order_models", "strongest_baselines", "figure3_specs"]
