"""The specs of each paper artifact, built from a profile (pure: nothing runs here).

Notebooks call these builders so that no two notebooks spell out the same grid, and a run
shared by two artifacts (AttRec with default settings appears in Tables 2, 3 and 4) has one
spec and is computed once. Per-data-set facts (the paper's L, T and regulariser, which paper set
a stand-in replaces) come from the data registry (``data/registry.py``), model facts from the
model registry (``models/__init__.py``), the paper's numbers from ``settings/paper_numbers.py``.
The specs that depend on a choice made on validation results are in ``decisions.py``.
"""
from __future__ import annotations

from .. import models
from ..data.registry import paper_set, run_settings
from ..runs.runspec import RunSpec, make_spec
from ..settings import paper_numbers
from .profiles import AGGREGATIONS, Profile


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


def released_specs(prof: Profile) -> list:
    """AttRec as the authors' code runs it (released preset and protocol) on ML-100K."""
    if "ml-100k" not in prof.datasets:
        return []
    return [make_spec("ml-100k", "attrec", "released_code", seed=s, train={"epochs": 40, "patience": 0},
                      **prof.overrides) for s in prof.seeds]


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
