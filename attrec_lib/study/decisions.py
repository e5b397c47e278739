"""The specs that follow from a choice made on validation results: the simple baselines' and the
tuned models' chosen settings (Table 2), AttRec's tuned omega, the strongest baselines of the
tie-order comparison. Each runs (or reads from the cache) the grid its choice needs."""
from __future__ import annotations

import pandas as pd

from ..data.preprocess import shuffled_tie_rule
from ..engines import grid
from ..runs import store
from ..runs.runspec import RunSpec
from ..rules import selection
from . import builders, spaces, tuning
from .builders import spec_for
from .profiles import (ALL_MODELS, MODEL_LABELS, NON_SEQUENTIAL, SIMPLE_BASELINES, TIE_ORDER_ALL_MODELS, TIE_ORDER_RULES,
                       TIE_ORDER_STRONGEST, Profile, available_models)


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
    return model if not fixed else f"{model}[{spaces.fixed_label(fixed)}]"


def tuning_labels(prof: Profile) -> dict:
    """:data:`MODEL_LABELS` plus a readable label for each ``tuned_fixed`` tuning."""
    extra = {tuning_name(m, dict(f)): f"{MODEL_LABELS.get(m, m)} ({', '.join(f'{k} fixed at {v}' for k, v in f)})"
             for m, f in prof.tuned_fixed}
    return {**MODEL_LABELS, **extra}


def _tuned_row_sources(prof: Profile) -> list:
    """(data set, where its settings are chosen) of every data set with tuned rows."""
    return [(ds, ds) for ds in prof.tuned_datasets] + list(prof.tuned_from)


def _trials_cached(prof: Profile, dataset: str, model: str, fixed: dict | None = None) -> bool:
    return all(store.load_result(s) is not None
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
    parts = []
    for ds in prof.tuned_datasets:
        for m, fixed in fixed_tunings(prof):
            specs = tuning.chosen_runs(prof, ds, m, prof.tuning, prof.seeds, fixed=fixed)
            parts.append(grid.run_grid(specs, progress=False).assign(model=tuning_name(m, fixed)))
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


def tuned_omega(prof: Profile, dataset: str) -> float:
    """The omega of Figure 4a's sweep with the best mean *validation* HR@50 (the paper tuned
    omega in {0, 0.2, ..., 1} on the validation item); ties go to the smaller omega."""
    sweep = [s for s in builders.omega_specs(prof) if s.dataset == dataset]
    if not sweep:
        raise ValueError(f"{dataset} has no omega sweep in profile {prof.name}")
    df = grid.run_grid(sweep, progress=False)
    return float(selection.best(df, "cfg.omega", "the tuned omega", order=sorted(set(df["cfg.omega"]))))


def tuned_specs(prof: Profile) -> list:
    """AttRec with omega tuned on the validation item, for every Table 2 data set that has an
    omega sweep; where the tuned omega is the default these are Table 2's own runs."""
    return [spec_for(prof, ds, "attrec", s, omega=tuned_omega(prof, ds))
            for ds in prof.datasets if ds in prof.sweep_datasets for s in prof.seeds]


def strongest_baselines(prof: Profile, dataset: str, n: int = TIE_ORDER_STRONGEST, cached_only: bool = False):
    """The ``n`` learned baselines with the best mean *validation* HR@50 of their Table 2 (stable) runs,
    best first (ties: Table 2's model order). ``cached_only``: None instead of running what the
    cache lacks."""
    specs = [s for s in learned_table2_specs(prof) if s.dataset == dataset and s.model != "attrec"]
    if cached_only and any(store.load_result(s) is None for s in specs):
        return None
    order = list(dict.fromkeys(s.model for s in specs))  # Table 2's model order
    return tuple(selection.ranking(grid.run_grid(specs, progress=False), "model", "the strongest baselines",
                                   order=order)[:n])


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
    if rule not in TIE_ORDER_RULES:
        raise ValueError(f"rule must be one of {TIE_ORDER_RULES}, got {rule!r}")
    out = []
    for ds in prof.datasets if prof.tie_order_datasets is None else prof.tie_order_datasets:
        for m in tie_order_models(prof, ds, cached_only) or ():
            out += [spec_for(prof, ds, m, s, tie_rule=None if rule == "stable" else shuffled_tie_rule(s))
                    for s in (prof.seeds if prof.tie_order_seeds is None else prof.tie_order_seeds)]
    return out


def tie_order_grid_specs(prof: Profile) -> list:
    """Both rules, for ``all_specs``: data sets whose strongest baselines need uncached Table 2
    runs are left out (the next ``grid`` call, or notebook 09, adds them)."""
    return [s for rule in TIE_ORDER_RULES for s in tie_order_specs(prof, rule, cached_only=True)]


def tuned_grid_specs(prof: Profile) -> list:
    """Table 2's tuned rows, for ``all_specs``: a model whose trials are not all cached is left out
    (``all_runs.fill_profile`` adds it after the trials ran)."""
    return tuned_table2_specs(prof, cached_only=True) + fixed_tuned_specs(prof, cached_only=True)


def learned_table2_specs(prof: Profile) -> list:
    """Table 2's runs of the learned models (the simple ones enter a plan through their trials)."""
    return table2_specs(prof, available_models(tuple(m for m in ALL_MODELS if m not in SIMPLE_BASELINES)))
