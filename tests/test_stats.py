"""attrec_lib.rules.stats: the two-level bootstrap finds a known difference, not a null one, counts
seed noise, and Holm's adjustment matches a hand-worked case."""
import numpy as np
import pandas as pd
import pytest

from attrec_lib.rules import stats


def _binary(rng, p, seeds, users, seed_sd=0.0):
    """(seeds x users) 0/1 hits with hit rate p per user, shifted per seed by N(0, seed_sd)."""
    base = rng.random(users)
    shift = rng.normal(0, seed_sd, size=(seeds, 1))
    return (base[None, :] < p + shift).astype(float)


def test_known_difference_is_found_with_its_interval():
    rng = np.random.default_rng(1)
    users = 2000
    latent = rng.random(users)
    a = np.vstack([(latent < 0.55).astype(float)] * 3)  # the same users, 10 points more hits
    b = np.vstack([(latent < 0.45).astype(float)] * 3)
    r = stats.compare(a, b)
    assert r["delta"] == pytest.approx(a.mean() - b.mean())
    assert r["ci low"] < r["delta"] < r["ci high"]
    assert r["ci low"] > 0.05 and r["p"] < 1e-6 and r["p percentile"] < 0.001


def test_null_difference_is_not_found():
    rng = np.random.default_rng(2)
    a = _binary(rng, 0.5, 3, 1500)
    b = _binary(rng, 0.5, 3, 1500)
    r = stats.compare(a, b)
    assert r["ci low"] < 0 < r["ci high"]
    assert r["p"] > 0.05 and r["p percentile"] > 0.05


def test_seed_noise_widens_the_interval_where_averaging_seeds_first_would_not():
    """A difference carried by one lucky seed of three is within seed noise."""
    rng = np.random.default_rng(3)
    users = 3000
    b = np.vstack([(rng.random(users) < 0.5).astype(float) for _ in range(3)])
    a = b.copy()
    a[0] = np.maximum(a[0], rng.random(users) < 0.15)  # seed 0 of a: many more hits
    seeds_only_users = stats.compare(a.mean(0, keepdims=True), b.mean(0, keepdims=True))
    both = stats.compare(a, b)
    assert seeds_only_users["p"] < 0.01  # users alone: "significant"
    assert both["ci high"] - both["ci low"] > 2 * (seeds_only_users["ci high"] - seeds_only_users["ci low"])
    assert both["p"] > 0.05


def test_paired_seeds_use_one_draw_for_both():
    rng = np.random.default_rng(4)
    a = rng.random((3, 500))
    r = stats.compare(a, a, paired_seeds=True)
    assert r["delta"] == 0 and r["ci low"] == 0 and r["ci high"] == 0 and r["p"] == 1.0
    with pytest.raises(ValueError, match="same seeds"):
        stats.compare(a, a[:2], paired_seeds=True)


def test_deterministic_and_one_sided():
    rng = np.random.default_rng(5)
    a, b = rng.random((3, 400)) + 0.15, rng.random((1, 400))
    assert stats.compare(a, b) == stats.compare(a, b)
    two, one = stats.compare(a, b), stats.compare(a, b, alternative="greater")
    assert one["p"] == pytest.approx(two["p"] / 2)
    assert one["p percentile"] == pytest.approx(min(1.0, two["p percentile"] / 2), abs=1e-3)
    assert stats.compare(b, a, alternative="greater")["p"] > 0.9


def test_mean_interval_covers_the_mean():
    rng = np.random.default_rng(6)
    a = rng.random((3, 800))
    mean, lo, hi = stats.mean_interval(a)
    assert lo < mean < hi and mean == pytest.approx(a.mean())


def test_matrices_from_a_long_frame_align_users():
    users = pd.DataFrame({"model": ["x"] * 4 + ["y"] * 3, "seed": [0, 0, 1, 1, 0, 0, 0],
                          "user": [1, 2, 1, 2, 2, 1, 3], "hr@50": [1, 0, 1, 1, 0, 1, 1]})
    a, b = stats.matrices(users, "x", "y", "hr@50")
    assert a.tolist() == [[1, 0], [1, 1]] and b.tolist() == [[1, 0]]  # users 1, 2 in that order
    with pytest.raises(ValueError, match="no rows with model == 'z'"):
        stats.matrices(users, "x", "z", "hr@50")
    with pytest.raises(ValueError, match="lacks column 'mrr'"):
        stats.matrices(users, "x", "y", "mrr")


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="b must be"):
        stats.compare(np.ones((2, 5)), np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match="same users"):
        stats.compare(np.ones((2, 5)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="missing or infinite"):
        stats.compare(np.array([[1.0, np.nan, 0.0]]), np.ones((1, 3)))


def test_holm_hand_case():
    # p = 0.01, 0.04, 0.03, 0.005 (m = 4): sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1
    # = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    adj = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adj.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [stats.significant(p) for p in adj] == [True, False, False, True]


def test_holm_skips_missing_and_caps_at_one():
    adj = stats.holm([0.5, np.nan, 0.4])
    assert np.isnan(adj[1]) and adj[0] == pytest.approx(0.8) and adj[2] == pytest.approx(0.8)
    assert stats.holm([0.6, 0.7]).tolist() == [1.0, 1.0]
    assert stats.holm([]).size == 0
    assert not stats.significant(float("nan"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.holm([1.5])


def test_normal_p_agrees_with_the_percentile_interval():
    """Over many constructed pairs, p < 0.05 where (and nearly only where) the interval excludes 0."""
    rng = np.random.default_rng(7)
    agree = 0
    for i in range(30):
        a = (rng.random((3, 600)) < 0.3 + 0.002 * i).astype(float)
        b = (rng.random((3, 600)) < 0.3).astype(float)
        r = stats.compare(a, b, n_boot=1000, seed=i)
        agree += (r["p"] < 0.05) == (r["ci low"] > 0 or r["ci high"] < 0)
    assert agree >= 28
