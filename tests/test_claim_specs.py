"""claim_specs: issue 27's new runs have new keys, leave every existing spec as it was, and the
verdict reads a new set only once all of its runs are cached."""
import dataclasses

import pytest

from attrec_lib.runs import runspec, store
from attrec_lib.study import builders, claim_specs, decisions, profiles


@pytest.fixture
def prof():
    return profiles.profile("full", datasets=["ml-100k", "lastfm", "movietweetings-snapshot-100k"], seeds=[0, 1, 2])


def test_sparse_ablations_add_new_lengths_and_reuse_table_3_at_l2(prof):
    t3, t4 = claim_specs.sparse_table3_specs(prof), claim_specs.sparse_table4_specs(prof)
    assert {(s.dataset, s.model_config["seq_len"]) for s in t3} == {
        ("movietweetings-snapshot-100k", 3), ("lastfm", 2), ("lastfm", 3), ("lastfm", 5)}
    lastfm_l2 = {s.key for s in t3 if s.dataset == "lastfm" and s.model_config["seq_len"] == 2}
    assert lastfm_l2 <= {s.key for s in builders.table3_specs(prof)}  # LastFM at L = 2 is Table 3's own
    assert {s.model_config["aggregation"] for s in t4} == set(profiles.AGGREGATIONS)
    both = claim_specs.sparse_ablation_specs(prof)
    assert len({s.key for s in both}) == len(both) == len({s.key for s in t3} | {s.key for s in t4})


def test_order_blind_reruns_change_only_the_tie_rule_and_seed(prof, monkeypatch):
    monkeypatch.setattr(decisions, "simple_baseline_spec", lambda p, ds, m: runspec.make_spec(ds, m, None, seed=0))
    monkeypatch.setattr(claim_specs.tuning, "chosen_runs", lambda p, ds, m, budget, seeds: [
        runspec.make_spec(ds, m, None, seed=s) for s in seeds])
    stable, shuffled = claim_specs.order_blind_stable_specs(prof), claim_specs.order_blind_shuffled_specs(prof)
    assert {(s.dataset, s.model) for s in stable} == {(ds, m) for ds in ("ml-100k", "lastfm")
                                                      for m in ("itemknn", "ease", "bprmf")}
    assert {s.tie_rule for s in shuffled} == {"shuffled:0", "shuffled:1", "shuffled:2"}
    assert len(shuffled) == 2 * (3 + 3 + 3)  # ItemKNN and EASE: one run per order seed; BPRMF: its own seeds
    for s in shuffled:
        twin = next(x for x in stable if (x.dataset, x.model) == (s.dataset, s.model)
                    and (x.seed == s.seed or s.model != "bprmf"))
        assert s.tie_rule == f"shuffled:{s.seed}"
        assert dataclasses.replace(s, tie_rule=twin.tie_rule, seed=twin.seed) == twin


def test_null_model_and_gap_split_specs(prof):
    null = claim_specs.figure3_null_spec(prof)
    first = builders.figure3_spec(prof)
    assert null.tie_rule == "user_shuffled:0" and dataclasses.replace(null, tie_rule="stable") == first
    assert null.key != first.key
    (split, *_) = claim_specs.gap_split_specs(prof)
    (gap, *_) = builders.gap_specs(prof)
    assert (split.protocol, split.tie_rule) == ("released", "stable") and split.model_config == gap.model_config


def test_cached_groups_keep_only_complete_groups(prof, monkeypatch):
    specs = claim_specs.sparse_table3_specs(prof)
    missing = specs[-1].key
    monkeypatch.setattr(store, "load_result", lambda s: None if s.key == missing else {})
    kept = claim_specs.cached_groups(specs, lambda s: (s.dataset, s.model_config["seq_len"]))
    last = (specs[-1].dataset, specs[-1].model_config["seq_len"])
    assert kept and all((s.dataset, s.model_config["seq_len"]) != last for s in kept)
    assert len(kept) == len([s for s in specs if (s.dataset, s.model_config["seq_len"]) != last])


def test_the_claims_part_waits_for_the_tuning_trials_then_lists_every_claim_run(prof, monkeypatch):
    from attrec_lib.study import all_runs
    trial_keys = {s.key for s in decisions.learned_trial_specs(prof) + decisions.simple_trial_specs(prof)}
    cached = set()
    monkeypatch.setattr(store, "load_result", lambda s: {} if s.key in cached else None)
    assert claim_specs.grid_specs(prof) == []  # no trial cached: nothing named, nothing run
    cached |= trial_keys
    monkeypatch.setattr(claim_specs, "all_specs", lambda p: ["every claim run"])
    assert claim_specs.grid_specs(prof) == ["every claim run"]
    assert "claims" in all_runs.PARTS
