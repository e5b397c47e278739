"""The study plan: what a spec is built from (registries, profiles), and how the study grows.

A new data set is one registry entry (it then runs through a notebook's spec builder), a new
model is its class plus one registry line, and a misspelt override is an error, not a run with
the default setting under a default key.
"""
import dataclasses
import hashlib
import math
import pathlib

import pytest

from attrec_lib.engines import grid
from attrec_lib.runs import compute, runspec
from attrec_lib import models
from attrec_lib.settings import paths
from attrec_lib.study import all_runs, builders, decisions, profiles, tuning
from attrec_lib.analysis import tables
from attrec_lib.data import is_available, load_dataset, registry
from attrec_lib.data.registry import SYNTHETIC, DatasetSpec, RawFile, RunSettings
from attrec_lib.data.synthetic import planted_sequences
from attrec_lib.models.base import ModelConfig, SequentialRecommender


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Results, raw and processed data under tmp_path; registrations undone after the test."""
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("ATTREC_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.delenv("ATTREC_FRESH_SINCE", raising=False)
    monkeypatch.setattr(paths, "RAW_DIR", tmp_path / "raw")
    monkeypatch.setattr(paths, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    return tmp_path


def _write_shop(mirror: pathlib.Path) -> str:
    """A small data set in ML-100K's file format (user, item, rating, time), 40 users walking a
    planted item cycle; returns the file's sha256."""
    data = planted_sequences(n_users=40, n_items=25, length=12, seed=3)
    rows = [f"{u + 1}\t{item + 100}\t4\t{1000 + t}" for u, seq in enumerate(data.sequences)
            for t, item in enumerate(seq)]
    text = "\n".join(rows) + "\n"
    (mirror / "shop").mkdir(parents=True)
    (mirror / "shop" / "u.data").write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def _shop_spec(digest: str, **changes) -> DatasetSpec:
    spec = DatasetSpec(name="shop", paper_name="", parser="ml100k",
                       files=(RawFile("u.data", "shop/u.data", "https://example.invalid/shop.zip", digest),),
                       canonical_urls=("https://example.invalid/shop.zip",), license="test only",
                       preprocessing="none", settings=RunSettings(seq_len=2, n_targets=1, reg_mode="norm_clip"))
    return dataclasses.replace(spec, **changes)


def test_a_new_data_set_is_one_registry_entry(sandbox):
    registry.register(_shop_spec(_write_shop(sandbox / "mirror")))
    assert is_available("shop") and "shop" in registry.dataset_names()
    assert "shop" in profiles.profile("full").datasets  # every available registered set is in the full profile

    prof = profiles.profile("tiny", datasets=["shop"])
    specs = decisions.table2_specs(prof)
    assert {s.dataset for s in specs} == {"shop"} and {s.model for s in specs} == set(profiles.ALL_MODELS)
    for s in specs:  # the registry's settings, in every model that has the field
        if s.model in profiles.SIMPLE_BASELINES:  # their tuned trial may search L
            continue
        assert (s.model_config["seq_len"], s.model_config["n_targets"]) == (2, 1)
        assert s.model_config.get("reg_mode", "norm_clip") == "norm_clip"
        assert s.model_config.get("d", 8) == 8  # the tiny profile's override
    attrec = next(s for s in specs if s.model == "attrec")
    row = grid.run_grid([attrec], progress=False).iloc[0]
    assert row["dataset"] == "shop" and 0.0 <= row["hr@50"] <= 1.0 and math.isfinite(row["mrr"])
    assert load_dataset("shop").n_users == 40


def test_a_light_data_set_runs_only_attrec_pop_and_the_simple_baselines(sandbox, monkeypatch):
    registry.register(_shop_spec(_write_shop(sandbox / "mirror")))
    monkeypatch.setattr(decisions, "simple_baseline_spec", lambda prof, ds, m: builders.spec_for(prof, ds, m))  # no trials
    prof = dataclasses.replace(profiles.profile("tiny"), light_datasets=("shop",))
    assert prof.table2_datasets == (SYNTHETIC, "shop")
    specs = decisions.table2_specs(prof)
    assert {s.model for s in specs if s.dataset == "shop"} == set(profiles.LIGHT_MODELS)
    assert {s.model for s in specs if s.dataset == SYNTHETIC} == set(profiles.ALL_MODELS)
    assert {s.dataset for s in decisions.simple_trial_specs(prof)} == {SYNTHETIC, "shop"}
    # Nothing but Table 2 runs there: no ablation, sweep or tie-order run.
    others = all_runs.all_specs(prof)
    assert {s.model for s in others if s.dataset == "shop"} <= set(profiles.LIGHT_MODELS)
    assert not [s for s in builders.table3_specs(prof) + builders.omega_specs(prof) if s.dataset == "shop"]
    # Narrowing a profile to its light set keeps it light.
    narrowed = profiles.profile("tiny", datasets=["shop", SYNTHETIC])
    assert narrowed.light_datasets == () and narrowed.datasets == ("shop", SYNTHETIC)


def test_the_standard_profile_runs_the_left_out_sets_stand_in_in_table2_only(monkeypatch):
    # the simple baselines' specs without running their trials (the results folder is empty here)
    monkeypatch.setattr(decisions, "simple_baseline_spec", lambda prof, ds, m: builders.spec_for(prof, ds, m))
    prof = profiles.profile("standard")
    assert prof.light_datasets == ()
    for ds in prof.datasets:
        if registry.paper_set(ds) in profiles.STANDARD_LEAVES_OUT:  # every model in Table 2, nothing else
            assert ds not in prof.ablation_datasets + prof.tuned_row_datasets + prof.figure5_datasets
            assert ds not in (prof.tie_order_datasets or ())
            assert set(prof.table2_models(ds)) == set(profiles.ALL_MODELS)
    if is_available("ml-1m-first2999"):
        assert "ml-1m-first2999" in prof.datasets
        sweeps = builders.omega_specs(prof) + builders.seq_len_specs(prof) + builders.dim_specs(prof) + builders.table3_specs(prof)
        assert not [s for s in sweeps + builders.table4_specs(prof) if s.dataset == "ml-1m-first2999"]


def test_a_stand_in_takes_its_paper_sets_settings_and_numbers(sandbox):
    digest = _write_shop(sandbox / "mirror")
    registry.register(_shop_spec(digest))
    registry.register(_shop_spec(digest, name="shop-sample", settings=None, stand_in_for="shop"))
    spec = builders.spec_for(profiles.profile("tiny", datasets=["shop-sample"]), "shop-sample", "attrec")
    assert (spec.model_config["seq_len"], spec.model_config["reg_mode"]) == (2, "norm_clip")
    assert tables.paper_set("shop-sample") == "shop"
    assert registry.ablation_replacement("shop") == "shop-sample"


@pytest.mark.parametrize("changes,message", [
    ({"settings": None}, "settings"),
    ({"settings": None, "stand_in_for": "nowhere"}, "stand_in_for='nowhere'"),
    ({"generate": planted_sequences}, "not both"),
    ({"name": "ml-100k"}, "already registered"),
])
def test_register_refuses_an_incomplete_data_set(sandbox, changes, message):
    with pytest.raises(ValueError, match=message):
        registry.register(_shop_spec("0" * 64, **changes))


def test_paper_settings_per_data_set():
    """The paper's Implementation Details: MovieLens L=5, T=3 with L2; MovieTweetings L=3, T=1;
    the other sets L=2, T=1; norm clipping on the sparse sets. Stand-ins take their paper set's."""
    prof = profiles.profile("tiny")
    expected = {"ml-100k": (5, 3, "l2_batch"), "ml-1m-first2999": (5, 3, "l2_batch"),
                "movietweetings": (3, 1, "norm_clip"), "movietweetings-snapshot-100k": (3, 1, "norm_clip"),
                "lastfm": (2, 1, "norm_clip"), "amazon-patio-lawn-garden": (2, 1, "norm_clip")}
    for dataset, settings in expected.items():
        cfg = builders.spec_for(prof, dataset, "attrec").model_config
        assert (cfg["seq_len"], cfg["n_targets"], cfg["reg_mode"]) == settings, dataset
    assert registry.ablation_replacement("ml-1m") == "ml-1m-first2999"
    assert registry.ablation_replacement("amazon-digital-music") == "lastfm"


def test_a_misspelt_override_raises_naming_the_field():
    prof = profiles.profile("tiny")
    with pytest.raises(ValueError, match="omgea"):
        builders.spec_for(prof, SYNTHETIC, "attrec", omgea=0.7)
    with pytest.raises(ValueError, match="'dd'"):
        dataclasses.replace(prof, overrides={"dd": 8})
    with pytest.raises(ValueError, match="unknown data set 'ml-10m'"):
        profiles.profile("tiny", datasets=["ml-10m"])
    # the setting a model has no field for is left out only for that model (Pop has no d)
    assert "d" not in builders.spec_for(prof, SYNTHETIC, "pop").model_config


@dataclasses.dataclass(frozen=True)
class _MeanConfig(ModelConfig):
    d: int = 8  # latent dimension


class _MeanOfInputs(SequentialRecommender):
    """A throw-away model: the score is <mean of the input item vectors, item vector>."""

    config_class, presets = _MeanConfig, {"paper": _MeanConfig()}
    training = {"optimizer": "adam", "lr": 1e-2}

    def __init__(self, n_users, n_items, config=None):
        super().__init__(n_users, n_items, config)
        import torch
        self.E = torch.nn.Embedding(n_items + 1, self.config.d, padding_idx=n_items)

    def score(self, users, inputs):
        return self.E(inputs).mean(1) @ self.E.weight[: self.n_items].T

    def loss(self, batch):
        import torch.nn.functional as F
        h = self.E(batch.inputs).mean(1, keepdim=True)  # (B, 1, d)
        pos, neg = (h * self.E(batch.targets)).sum(-1), (h * self.E(batch.negatives)).sum(-1)
        return -F.logsigmoid(pos - neg).mean()


def test_a_new_model_is_its_class_and_one_registry_line(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setitem(models.REGISTRY, "mean", models.Entry(_MeanOfInputs, "Mean"))
    spec = runspec.make_spec(SYNTHETIC, "mean", "paper", train={"epochs": 1})
    assert spec.train_config["optimizer"] == "adam" and spec.model_config == {"seq_len": 5, "n_targets": 3, "d": 8}
    result = compute.run(spec, progress=False)
    assert result["spec"]["model"] == "mean" and result["epochs_run"] == 1
    with pytest.raises(ValueError, match="seq_len"):
        models.make_config("mean", "paper", seq_len=0)  # the base class's window check


def test_no_block_of_six_lines_is_repeated_in_the_library():
    """One place per fact: six consecutive code lines (imports and comments aside) occur once."""
    seen = {}
    for path in sorted((paths.REPO_ROOT / "attrec_lib").rglob("*.py")):
        lines = [line.strip() for line in path.read_text().splitlines()]
        code = [line for line in lines if line and not line.startswith(("#", "import ", "from ", '"""'))]
        for k in range(len(code) - 5):
            block = tuple(code[k:k + 6])
            assert block not in seen, f"repeated in {seen[block]} and {path}:\n" + "\n".join(block)
            seen[block] = path


def test_a_data_set_tuned_from_another_runs_the_sources_choice_with_its_own_settings(sandbox):
    registry.register(_shop_spec(_write_shop(sandbox / "mirror")))
    base = profiles.profile("tiny", datasets=[SYNTHETIC, "shop"])
    prof = dataclasses.replace(base, tuned_datasets=(SYNTHETIC,), tuned_from=(("shop", SYNTHETIC),))
    assert prof.tuned_row_datasets == (SYNTHETIC, "shop")
    assert {s.dataset for s in decisions.learned_trial_specs(prof)} == {SYNTHETIC}  # no trials on shop
    assert decisions.tuned_table2_specs(prof, cached_only=True) == []  # the source's trials are not cached yet
    grid.run_grid(decisions.learned_trial_specs(prof), progress=False)
    tuned = decisions.tuned_table2_specs(prof, cached_only=True)
    for model in prof.tuned_models:
        source = [s for s in tuned if s.dataset == SYNTHETIC and s.model == model]
        shop = [s for s in tuned if s.dataset == "shop" and s.model == model]
        chosen = tuning.tune(prof, SYNTHETIC, model, prof.tuning)
        assert source[0] == chosen["spec"] and [s.seed for s in shop] == list(prof.seeds)
        searched = {k for key in chosen["setting"] for k in (key if isinstance(key, tuple) else (key,))}
        for s in shop:  # the source's chosen values and training, the shop's own L and T
            assert s.train_config == source[0].train_config
            assert all(s.model_config[k] == source[0].model_config[k] for k in searched if k in s.model_config)
            assert (s.model_config["seq_len"], s.model_config["n_targets"]) == (2, 1)
    rq1 = decisions.rq1_specs(prof)  # RQ1 on shop reads the transferred rows of the tuned models
    assert {s.key for s in rq1 if s.dataset == "shop" and s.model in prof.tuned_models} == \
        {s.key for s in tuned if s.dataset == "shop"}
    with pytest.raises(ValueError, match="not among its tuned_datasets"):  # the source must be tuned
        dataclasses.replace(base, tuned_datasets=(), tuned_from=(("shop", SYNTHETIC),))


@pytest.mark.skipif(not (is_available("ml-100k") and is_available("ml-1m-first2999")), reason="needs both data sets")
def test_the_full_profile_gives_the_ml1m_stand_in_ml100k_settings_and_narrowing_keeps_that_honest():
    assert profiles.profile("full").tuned_from == (("ml-1m-first2999", "ml-100k"),)
    assert profiles.profile("standard").tuned_from == ()
    assert profiles.profile("full").tuned_row_datasets[-1] == "ml-1m-first2999"
    assert profiles.profile("full", datasets=["ml-100k", "ml-1m-first2999"]).tuned_from == (("ml-1m-first2999", "ml-100k"),)
    assert profiles.profile("full", datasets=["ml-1m-first2999"]).tuned_from == ()  # no tuned source left


def test_narrowing_a_profile_narrows_its_tie_order_sets():
    assert profiles.profile("full", datasets=["ml-100k"]).tie_order_datasets == ("ml-100k",)
    assert profiles.profile("full", datasets=["movietweetings-snapshot-100k"]).tie_order_datasets == ()


def test_the_full_profiles_figure5_is_drawn_on_the_papers_two_sets_or_their_stand_ins():
    prof = profiles.profile("full")
    from attrec_lib.settings import paper_numbers
    expected = []
    for paper in paper_numbers.FIGURE5_DATASETS:
        pick = paper if is_available(paper) else registry.ablation_replacement(paper)
        if pick and is_available(pick) and pick not in expected:
            expected.append(pick)
    assert prof.figure5_datasets == tuple(expected)
    assert {s.dataset for s in builders.dim_specs(prof)} == set(expected)
    if is_available("ml-100k") and is_available("lastfm"):  # the sparse stand-in for Garden here
        assert prof.figure5_datasets == ("ml-100k", "lastfm")


def test_figure4_sweeps_run_where_the_profile_says_and_the_tuned_omega_follows():
    full = profiles.profile("full")
    assert full.sweep_datasets[:len(full.ablation_datasets)] == full.ablation_datasets
    assert {s.dataset for s in builders.omega_specs(full)} == set(full.sweep_datasets)
    assert {s.dataset for s in builders.seq_len_specs(full)} == set(full.sweep_datasets)
    if is_available("movietweetings-snapshot-100k"):
        assert "movietweetings-snapshot-100k" in full.sweep_datasets  # Figure 4 on a fourth set
    tiny = dataclasses.replace(profiles.profile("tiny"), figure4_datasets=())
    assert builders.omega_specs(tiny) == [] and builders.seq_len_specs(tiny) == [] and decisions.tuned_specs(tiny) == []
    assert profiles.profile("standard").figure4_datasets is None  # the ablation sets


def test_the_full_and_standard_profiles_tune_with_the_same_budget_and_full_compares_tie_orders_on_the_tuned_sets():
    full, standard = profiles.profile("full"), profiles.profile("standard")
    assert full.tuning == standard.tuning and full.tuning.n_trials == 8
    assert full.tuning.epochs >= 100 and full.tuning.patience == 10  # the floor for every tuned model
    # tie orders on the paper's two tuned sets; the full profile also tunes every learned model on
    # the MovieTweetings stand-in (issue 26), where its tie-order runs are not needed
    assert full.tie_order_datasets == standard.tuned_datasets and full.tie_order_seeds == full.seeds == (0, 1, 2)
    assert full.tuned_datasets == standard.tuned_datasets + tuple(
        d for d in ("movietweetings-snapshot-100k",) if is_available(d))
    assert full.tuned_models == standard.tuned_models
    # the tuning trials of the full profile are the standard profile's, so its tuned rows need no new trials
    for ds in full.tuned_datasets:
        assert ([s.key for s in tuning.trial_specs(full, ds, "bprmf", full.tuning)]
                == [s.key for s in tuning.trial_specs(standard, ds, "bprmf", standard.tuning)])


def test_figure3_adds_the_ml1m_stand_in_where_the_profile_has_it():
    standard, full = profiles.profile("standard"), profiles.profile("full")
    assert [s.dataset for s in builders.figure3_specs(standard)] == [builders.figure3_spec(standard).dataset]
    expected = [builders.figure3_spec(full).dataset] + [d for d in full.ablation_datasets if d == "ml-1m-first2999"]
    assert [s.dataset for s in builders.figure3_specs(full)] == expected
    assert all(s.model == "attrec" and s.seed == full.seeds[0] for s in builders.figure3_specs(full))
    if is_available("ml-1m-first2999") and is_available("ml-100k"):
        assert expected == ["ml-100k", "ml-1m-first2999"]
