"""The runs the verdict's rules need beyond the notebooks' own (their own specs and keys).

* :func:`sparse_ablation_specs`: Tables 3 and 4 where attention is not degenerate. With L = 2
  and the diagonal masked, each item attends only to the other one, so with and without
  self-attention are the same model; the sparse-set claims are tested at L = 3 on the
  MovieTweetings stand-in (the paper's L for it) and at L = 3 and 5 on LastFM, beside L = 2.
* :func:`order_blind_shuffled_specs`: the order-blind models that the tie-order comparison
  does not rerun (EASE, ItemKNN: their tuned settings, chosen on validation with stable ties;
  BPRMF at its tuned setting), under shuffled ties with the tie-order seeds, so the sequential
  signal rule compares the best sequential model with the best order-blind one of all of them.
* :func:`figure3_null_spec`: AttRec trained on sequences shuffled inside each user
  (tie rule ``user_shuffled:<seed>``), Figure 3's null model beside an untrained AttRec
  (no run: its weights are its initialisation).

Every spec is built with :func:`builders.spec_for` (or from a tuned spec), so a run that already
exists (L = 2 on LastFM is Table 3's own) has its existing key and is read from the cache.
"""
from __future__ import annotations

import dataclasses

from ..data import is_available
from ..data.preprocess import USER_SHUFFLED, shuffled_tie_rule
from ..runs import runspec, store
from . import builders, decisions, profiles, tuning

# (data set, sequence lengths L) of the non-degenerate sparse ablations
SPARSE_ABLATIONS = (("movietweetings-snapshot-100k", (3,)), ("lastfm", (2, 3, 5)))
# the order-blind models of the sequential-signal rule (Pop and BPRMF are already in the tie-order runs)
ORDER_BLIND = ("pop", "bprmf", "itemknn", "ease")
ORDER_BLIND_RERUN = ("itemknn", "ease")


def sparse_datasets(prof) -> tuple:
    """The sparse-ablation data sets this profile has (among its Table 2 data sets, present here)."""
    return tuple(ds for ds, _ in SPARSE_ABLATIONS if ds in prof.table2_datasets and is_available(ds))


def _sparse(prof, settings) -> list:
    out = []
    for ds, lens in SPARSE_ABLATIONS:
        if ds not in sparse_datasets(prof):
            continue
        out += [builders.spec_for(prof, ds, "attrec", s, seq_len=L, **setting)
                for L in lens for setting in settings for s in prof.seeds]
    return out


def sparse_table3_specs(prof) -> list:
    """Table 3 (with / without self-attention) at each L of :data:`SPARSE_ABLATIONS`, the table seeds."""
    return _sparse(prof, [{"self_attention": flag} for flag in (True, False)])


def sparse_table4_specs(prof) -> list:
    """Table 4 (the four aggregations, with self-attention) at each L of :data:`SPARSE_ABLATIONS`."""
    return _sparse(prof, [{"aggregation": agg} for agg in profiles.AGGREGATIONS])


def sparse_ablation_specs(prof) -> list:
    """Both tables' sparse runs, Table 3's first, each run once (Table 4's mean is Table 3's with
    self-attention)."""
    seen, out = set(), []
    for spec in sparse_table3_specs(prof) + sparse_table4_specs(prof):
        if spec.key not in seen:
            seen.add(spec.key)
            out.append(spec)
    return out


def _tie_seeds(prof) -> tuple:
    return tuple(prof.seeds if prof.tie_order_seeds is None else prof.tie_order_seeds)


def _tie_datasets(prof) -> tuple:
    return tuple(prof.datasets if prof.tie_order_datasets is None else prof.tie_order_datasets)


def order_blind_stable_specs(prof) -> list:
    """The order-blind models' Table 2 runs on the tie-order data sets (stable ties): the simple
    ones' tuned runs, BPRMF's tuned rows where the profile tunes it, else its default ones."""
    out = []
    for ds in _tie_datasets(prof):
        for m in profiles.available_models(ORDER_BLIND_RERUN):
            out.append(decisions.simple_baseline_spec(prof, ds, m))
        if "bprmf" in prof.tuned_models and ds in prof.tuned_datasets:
            out += tuning.chosen_runs(prof, ds, "bprmf", prof.tuning, _tie_seeds(prof))
    return out


def order_blind_shuffled_specs(prof) -> list:
    """:func:`order_blind_stable_specs` under shuffled ties, one run per tie-order seed (the
    simple models are deterministic, so their seeds differ only in the order drawn)."""
    out = []
    for spec in order_blind_stable_specs(prof):
        seeds = _tie_seeds(prof) if spec.model in ORDER_BLIND_RERUN else (spec.seed,)
        out += [dataclasses.replace(spec, seed=int(s), tie_rule=shuffled_tie_rule(s)) for s in seeds]
    return out


def user_shuffled_rule(seed: int) -> str:
    return f"{USER_SHUFFLED}:{int(seed)}"


def figure3_null_spec(prof):
    """Figure 3's run (:func:`builders.figure3_spec`) trained on each user's sequence shuffled."""
    first = builders.figure3_spec(prof)
    return dataclasses.replace(first, tie_rule=user_shuffled_rule(first.seed))


def gap_split_specs(prof) -> list:
    """:func:`builders.gap_specs` with the stable tie rule: the released protocol (no validation item)
    without the authors' tie rule, which splits step (b) of the gap decomposition into the
    held-out validation item and the tie rule."""
    return [runspec.make_spec(s.dataset, s.model, None, seed=s.seed, protocol="released", tie_rule="stable",
                                  train=dict(s.train_config), **s.model_config) for s in builders.gap_specs(prof)]


def cached_groups(specs, by) -> list:
    """``specs`` less every group (same ``by(spec)``) with a run not in the cache: the verdict reads
    a new set only once all of its runs are there, and never starts them itself (the background
    ``grid`` does; until then the set is left out and the evidence does not list it)."""
    groups: dict = {}
    for spec in specs:
        groups.setdefault(by(spec), []).append(spec)
    return [s for group in groups.values() if all(store.load_result(x) is not None for x in group) for s in group]


def all_specs(prof) -> list:
    """Every run of this module, each once: sparse ablations, order-blind reruns, the null model,
    the gap split."""
    seen, out = set(), []
    for spec in [*sparse_ablation_specs(prof), *order_blind_shuffled_specs(prof), figure3_null_spec(prof),
                 *gap_split_specs(prof)]:
        if spec.key not in seen:
            seen.add(spec.key)
            out.append(spec)
    return out


def grid_specs(prof) -> list:
    """:func:`all_specs` for the profile's plan and ``grid`` (part ``claims``): only once every tuning
    trial is cached, since the order-blind reruns take the tunings' choices (the next ``grid`` call
    adds them then); nothing here computes a run."""
    trials = decisions.learned_trial_specs(prof) + decisions.simple_trial_specs(prof)
    if any(store.load_result(s) is None for s in trials):
        return []
    return all_specs(prof)
