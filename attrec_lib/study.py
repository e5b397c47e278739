"""The study's experiment plan: profiles, per-data-set settings, and the specs of each artifact.

Notebooks call these builders so that no two notebooks spell out the same grid, and a run
shared by two artifacts (AttRec with default settings appears in Tables 2, 3 and 4) has one
spec and is computed once.

Profiles
--------
``full``   every data set present (paper sets, else the labelled stand-ins), 3 seeds for the
           tables, the paper's sweep points.
``standard`` the full profile without the ML-1M stand-in (users 1-2999 of ML-1M), whose runs
           take five times longer: what the committed notebooks were built with on 2 cores.
``quick``  ML-100K only, one seed, fewer epochs and sweep points (about 10 minutes on 2 cores).
``tiny``   the synthetic planted data set with tiny models: checks that every notebook runs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import models, paper_numbers
from .experiments import make_spec

# Baselines of the paper's Table 2, then ours beyond the paper (Pop, SASRec), then AttRec.
PAPER_BASELINES = ("bprmf", "fmc", "fpmc", "hrm", "prme", "transrec", "caser", "lstm_plus")
EXTRA_BASELINES = ("pop", "sasrec")
ALL_MODELS = PAPER_BASELINES + EXTRA_BASELINES + ("attrec",)
MODEL_LABELS = {"bprmf": "BPRMF", "fmc": "FMC (MC)", "fpmc": "FPMC", "hrm": "HRM", "prme": "PRME",
                "transrec": "TransRec", "caser": "Caser", "lstm_plus": "LSTM+", "pop": "Pop",
                "sasrec": "SASRec", "attrec": "AttRec"}

# The data sets this machine can run when the paper's own are missing (labelled stand-ins).
STAND_IN_DATASETS = ("ml-100k", "ml-1m-first2999", "lastfm")


PROFILES = ("full", "standard", "quick", "tiny")


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
    overrides: dict = field(default_factory=dict)  # model config overrides for every run (tiny: d)
    dim_datasets: tuple | None = None  # Figure 5 data sets (None: the ablation data sets)

    @property
    def figure5_datasets(self) -> tuple:
        return self.ablation_datasets if self.dim_datasets is None else self.dim_datasets


def _present(names) -> tuple:
    from .data import is_available
    return tuple(n for n in names if is_available(n))


def _ablation_sets() -> tuple:
    """The paper's four ablation sets where present; otherwise the stand-ins available here."""
    from .data import is_available
    chosen = []
    for paper_set, stand_in in (("ml-100k", None), ("ml-1m", "ml-1m-first2999"),
                                ("amazon-patio-lawn-garden", "lastfm"), ("amazon-digital-music", "lastfm")):
        pick = paper_set if is_available(paper_set) else stand_in
        if pick and pick not in chosen and is_available(pick):
            chosen.append(pick)
    return tuple(chosen)


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
    from .data.registry import PAPER_DATASETS
    if name == "full":
        base = Profile("full", _present(PAPER_DATASETS + ("ml-1m-first2999", "movietweetings-snapshot-100k")), _ablation_sets(),
                       (0, 1, 2), (0,), 40, 5, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), (1, 2, 3, 5, 7, 9),
                       (10, 25, 50, 100, 150), ALL_MODELS)
    elif name == "standard":
        # What one 2-core machine finishes in a few hours: full minus the ML-1M stand-in.
        sets = tuple(d for d in _present(PAPER_DATASETS) if d != "ml-1m")
        abl = tuple(d for d in _ablation_sets() if d != "ml-1m-first2999")
        # Figure 5 leaves out LSTM+ and SASRec here (on a CPU they cost 5-10x an AttRec epoch) and
        # runs on ML-100K only (the paper's Figure 5: ML-100K and Garden).
        base = Profile("standard", sets, abl, (0, 1, 2), (0,), 40, 5, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                       (1, 2, 3, 5, 7, 9), (10, 25, 50, 100),
                       ("pop", "bprmf", "fmc", "fpmc", "hrm", "prme", "transrec", "caser", "attrec"),
                       dim_datasets=("ml-100k",) if "ml-100k" in abl else None)
    elif name == "quick":
        base = Profile("quick", _present(("ml-100k",)), _present(("ml-100k",)), (0,), (0,), 12, 3,
                       (0.0, 0.2, 0.6, 1.0), (1, 3, 5, 8), (25, 100), ("bprmf", "fpmc", "caser", "attrec"))
    elif name == "tiny":
        base = Profile("tiny", ("synthetic-planted",), ("synthetic-planted",), (0,), (0,), 2, 0,
                       (0.2, 1.0), (2, 3), (8, 12), ("pop", "attrec"), {"d": 8})
    else:
        raise ValueError(f"unknown profile {name!r}; known profiles: {list(PROFILES)}")
    datasets, seeds = _as_tuple(datasets, "datasets", str), _as_tuple(seeds, "seeds", int)
    changes = {}
    if datasets is not None:
        changes["datasets"] = changes["ablation_datasets"] = tuple(datasets)
        if base.dim_datasets is not None:
            changes["dim_datasets"] = tuple(d for d in base.dim_datasets if d in datasets) or tuple(datasets)
    if seeds is not None:
        changes["seeds"] = changes["sweep_seeds"] = tuple(seeds)
    if epochs is not None:
        changes["epochs"] = int(epochs)
    return dataclasses.replace(base, **changes)


def dataset_settings(dataset: str) -> dict:
    """The paper's per-data-set settings (Implementation Details): L, T and the regulariser.

    MovieLens: L=5, T=3, L2. MovieTweetings: L=3, T=1. Others: L=2, T=1. The sparse sets
    (Amazon, LastFM, MovieTweetings) use norm clipping for X, V, U instead of L2 (Eq. 12).
    Stand-ins take the settings of the set they stand in for.
    """
    base = dataset
    if dataset not in ("synthetic-planted",):
        from .data import get_spec
        base = get_spec(dataset).stand_in_for or dataset
    if base.startswith("ml-"):
        return {"seq_len": 5, "n_targets": 3, "reg_mode": "l2_batch"}
    if base == "movietweetings":
        return {"seq_len": 3, "n_targets": 1, "reg_mode": "norm_clip"}
    if base == "synthetic-planted":
        return {"seq_len": 3, "n_targets": 2, "reg_mode": "l2_batch"}
    return {"seq_len": 2, "n_targets": 1, "reg_mode": "norm_clip"}


def spec_for(prof: Profile, dataset: str, model: str, seed: int = 0, **overrides):
    """The spec of one run: the model's ``paper`` preset + the data set's settings + overrides."""
    fields = {f.name for f in dataclasses.fields(models.config_class(model))}
    settings = {k: v for k, v in {**dataset_settings(dataset), **prof.overrides, **overrides}.items()
                if k in fields}
    return make_spec(dataset, model, "paper", seed=seed,
                     train={"epochs": prof.epochs, "patience": prof.patience}, **settings)


def table2_specs(prof: Profile, model_names=ALL_MODELS) -> list:
    return [spec_for(prof, ds, m, s) for ds in prof.datasets for m in model_names for s in prof.seeds]


def released_specs(prof: Profile) -> list:
    """AttRec as the authors' code runs it (released preset and protocol) on ML-100K."""
    if "ml-100k" not in prof.datasets:
        return []
    return [make_spec("ml-100k", "attrec", "released_code", seed=s, train={"epochs": 40, "patience": 0},
                      **prof.overrides) for s in prof.seeds]


def tuned_omega(prof: Profile, dataset: str) -> float:
    """The omega of Figure 4a's sweep with the best mean *validation* HR@50 (the paper tuned
    omega in {0, 0.2, ..., 1} on the validation item); ties go to the smaller omega."""
    from .experiments import run_grid
    sweep = [s for s in omega_specs(prof) if s.dataset == dataset]
    if not sweep:
        raise ValueError(f"{dataset} has no omega sweep in profile {prof.name}")
    df = run_grid(sweep, progress=False)
    means = df.groupby("cfg.omega")["valid_hr@50"].mean()
    return float(means[means == means.max()].index.min())


def tuned_specs(prof: Profile) -> list:
    """AttRec with omega tuned on the validation item, for every Table 2 data set that has an
    omega sweep; where the tuned omega is the default these are Table 2's own runs."""
    return [spec_for(prof, ds, "attrec", s, omega=tuned_omega(prof, ds))
            for ds in prof.datasets if ds in prof.ablation_datasets for s in prof.seeds]


def code_settings_specs(prof: Profile) -> list:
    """AttRec with the released code's model settings under the honest protocol (validation item
    held out, validation-selected epoch, stable ties): separates the code's settings from its
    test-set selection."""
    if "ml-100k" not in prof.datasets:
        return []
    return [make_spec("ml-100k", "attrec", "released_code", seed=s, protocol="valid", tie_rule="stable",
                      train={"epochs": prof.epochs, "patience": prof.patience}, **prof.overrides)
            for s in prof.seeds]


def table3_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, self_attention=flag)
            for ds in prof.ablation_datasets for flag in (True, False) for s in prof.seeds]


AGGREGATIONS = ("mean", "sum", "max", "min")


def table4_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, aggregation=agg)
            for ds in prof.ablation_datasets for agg in AGGREGATIONS for s in prof.seeds]


def omega_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, omega=w)
            for ds in prof.ablation_datasets for w in prof.omegas for s in prof.sweep_seeds]


def seq_len_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, "attrec", s, seq_len=L)
            for ds in prof.ablation_datasets for L in prof.seq_lens for s in prof.sweep_seeds]


def dim_specs(prof: Profile) -> list:
    return [spec_for(prof, ds, m, s, d=d) for ds in prof.figure5_datasets for m in prof.dim_models
            for d in prof.dims for s in prof.sweep_seeds if m != "pop" or d == prof.dims[0]]


def runtime_specs(prof: Profile) -> list:
    """AttRec and Caser on the ablation sets (their seconds per epoch make Table 5)."""
    return [spec_for(prof, ds, m, prof.seeds[0]) for ds in prof.ablation_datasets
            for m in ("attrec", "caser") if m in models.model_names()]


def paper_dataset(dataset: str) -> str:
    """The paper data set whose reported numbers a (possibly stand-in) data set is compared with."""
    if dataset == "synthetic-planted":
        return dataset
    from .data import get_spec
    return get_spec(dataset).stand_in_for or dataset


def available_models(names=ALL_MODELS) -> tuple:
    known = set(models.model_names())
    return tuple(m for m in names if m in known)


def all_specs(prof: Profile) -> list:
    """Every run the notebooks of a profile need, each once, in order of importance: Table 2 first,
    then the released-code runs, Tables 3-4, Figure 4, Figure 5."""
    builders = (table2_specs, released_specs, code_settings_specs, table3_specs, table4_specs, omega_specs, seq_len_specs,
                dim_specs, runtime_specs)
    seen, out = set(), []
    for build in builders:
        specs = build(prof, available_models()) if build is table2_specs else build(prof)
        for spec in specs:
            if spec.key not in seen:
                seen.add(spec.key)
                out.append(spec)
    return out


__all__ = ["all_specs", "PROFILES", "Profile", "profile", "dataset_settings", "spec_for", "table2_specs", "released_specs",
           "table3_specs", "table4_specs", "omega_specs", "seq_len_specs", "dim_specs", "runtime_specs",
           "paper_dataset", "available_models", "ALL_MODELS", "PAPER_BASELINES", "MODEL_LABELS",
           "paper_numbers"]


# Figure 3 of the paper shows ML-100K users 888 and 538 (raw MovieLens ids).
FIGURE3_USERS = ("888", "538")


def figure3_maps(prof: Profile, users=FIGURE3_USERS) -> dict:
    """L x L attention weights of AttRec (headline epoch of seed 0) for the given raw user ids,
    computed on each user's test input (the last L items before the test item).

    On a data set without those users (the tiny profile's synthetic set), the first two users.
    """
    import torch

    from .data import load_processed
    from .experiments import load_split, trained_model
    dataset = prof.ablation_datasets[0]
    spec = spec_for(prof, dataset, "attrec", prof.seeds[0])
    model = trained_model(spec)
    split = load_split(spec.dataset, spec.tie_rule, True)
    if dataset == "synthetic-planted":
        index = {str(u): u for u in range(split.n_users)}
        users = ("0", "1")
    else:
        index = {raw: i for i, raw in enumerate(load_processed(dataset).user_ids)}
    inputs = split.eval_inputs("test", spec.model_config["seq_len"])
    maps = {}
    for raw in users:
        u = index[raw]
        weights = model.attention_weights(torch.as_tensor(inputs[[u]]))[0].numpy()
        maps[f"{dataset} user {raw}"] = weights
    return maps
