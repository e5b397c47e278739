"""Every run a profile needs (:func:`all_specs`, by part: :data:`PARTS`), and filling the cache with
them (:func:`fill_profile`: the first-phase runs, then what is chosen on their validation results)."""
from __future__ import annotations

from ..engines import ray_engine
from . import builders, claim_specs, decisions, split_specs
from .profiles import Profile


def fill_profile(prof: Profile, workers=None, address=None, device=None, progress: bool = True, parts=None) -> int:
    """Compute every run the notebooks of profile ``prof`` need and return how many runs it has.

    Some runs are known only once others are cached: the tie-order comparison's strongest
    baselines (after Table 2), each tuned model's chosen setting (after its trials), the
    omega-tuned AttRec runs (after Figure 4's sweep). So the runs are filled in rounds: each round
    computes what :func:`all_specs` and the choices (:func:`decisions.tuned_specs`,
    :func:`decisions.tuned_table2_specs`) name now, until a round names no run the previous one
    did not (at most :data:`MAX_ROUNDS`). ``parts``: only these groups of :data:`PARTS`, and the
    runs that follow from them."""
    done: dict = {}
    wanted = all_specs(prof, parts=parts)  # first round: what is known before anything is cached
    for _ in range(MAX_ROUNDS):
        new = {s.key: s for s in wanted if s.key not in done}
        if not new:
            break
        ray_engine.run_specs(list(new.values()), workers=workers, address=address, device=device, progress=progress)
        done.update(new)
        # Later rounds: the choices read the runs just cached (nothing of theirs is computed in here).
        wanted = list(all_specs(prof, parts=parts))
        if parts is None or "figure4" in parts:
            wanted += decisions.tuned_specs(prof)
        if parts is None or "tuning-trials" in parts:
            wanted += decisions.tuned_table2_specs(prof)
    return len(done)


MAX_ROUNDS = 5  # Table 2 -> strongest baselines -> tie order; trials -> choices -> tuned rows


def _parts() -> dict:
    """The groups of runs a profile needs, by name, in order of importance (``grid --part``)."""
    return {"table2": decisions.learned_table2_specs, "simple-trials": decisions.simple_trial_specs,
            "tuning-trials": decisions.learned_trial_specs,
            "released": lambda p: builders.released_specs(p) + builders.code_settings_specs(p) + builders.gap_specs(p),
            "table3": builders.table3_specs, "table4": builders.table4_specs,
            "figure4": lambda p: builders.omega_specs(p) + builders.seq_len_specs(p),
            "figure5": builders.dim_specs, "table5": builders.runtime_specs, "tie-order": decisions.tie_order_grid_specs,
            "tuned": decisions.tuned_grid_specs, "splits": split_specs.grid_specs,
            "claims": claim_specs.grid_specs}


PARTS = tuple(_parts())


def all_specs(prof: Profile, parts=None) -> list:
    """Every run the notebooks of a profile need, each once, in order of importance: Table 2 first
    (its learned models, then the simple baselines' trials), the learned models' tuning trials,
    the released-code runs, Tables 3-4, Figure 4, Figure 5, Table 5, the tie-order comparison, the
    tuned models' chosen settings. ``parts``: only these groups (names of :data:`PARTS`)."""
    groups = _parts()
    unknown = sorted(set(parts or ()) - set(groups))
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; known parts: {list(PARTS)}")
    seen, out = set(), []
    for name, build in groups.items():
        if parts is not None and name not in parts:
            continue
        for spec in build(prof):
            if spec.key not in seen:
                seen.add(spec.key)
                out.append(spec)
    return out
