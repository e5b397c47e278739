"""The study: profiles, the specs of every artifact, the tuning, and the choices made on
validation results.

Modules (each imports only those before it; a contract of ``make imports`` holds it): ``spaces``
(the tuning's search spaces and draws), ``profiles`` (profiles and groups of models), ``builders``
(pure spec builders), ``tuning`` (the equal-budget search), ``decisions`` (specs that follow from a
choice), ``claim_specs`` (the runs of the verdict's rules beyond the notebooks') and ``split_specs``
(Table 2's models under the other splits), ``all_runs`` (every run of a profile; filling the cache).

The names below are re-exported for the notebooks (``study.profile(...)``,
``study.table2_specs(prof)``); library code imports the defining module.
"""
from .all_runs import PARTS, all_specs, fill_profile
from .builders import (code_settings_specs, dim_specs, figure3_spec, figure3_specs, gap_specs, omega_specs,
                       released_specs, runtime_specs, seq_len_specs, spec_for, table3_specs, table4_specs)
from .decisions import (fixed_tuned_rows, fixed_tuned_specs, fixed_tunings, learned_table2_specs,
                        learned_trial_specs, pending_tuned_rows, rq1_specs, simple_baseline_choices,
                        simple_baseline_spec, simple_trial_specs, strongest_baselines, table2_specs,
                        tie_order_models, tie_order_specs, tuned_choices, tuned_omega, tuned_specs, tuned_table2_specs,
                        tuned_trials, tuning_labels, tuning_name, tunings)
from .profiles import (AGGREGATIONS, ALL_MODELS, EXTRA_BASELINES, LEARNED_MODELS, LIGHT_MODELS, MODEL_LABELS,
                       NON_SEQUENTIAL, PAPER_BASELINES, PAPER_OMEGAS, PAPER_SEQ_LENS, PROFILES, SIMPLE_BASELINES,
                       STANDARD_LEAVES_OUT, TIE_ORDER_ALL_MODELS, TIE_ORDER_RULES, TIE_ORDER_STRONGEST, TUNING_BUDGET,
                       Budget, Profile, available_models, profile)

__all__ = [
    "AGGREGATIONS", "ALL_MODELS", "Budget", "EXTRA_BASELINES", "LEARNED_MODELS", "LIGHT_MODELS", "MODEL_LABELS",
    "NON_SEQUENTIAL", "PAPER_BASELINES", "PAPER_OMEGAS", "PAPER_SEQ_LENS", "PARTS", "PROFILES", "Profile",
    "SIMPLE_BASELINES", "STANDARD_LEAVES_OUT", "TIE_ORDER_ALL_MODELS", "TIE_ORDER_RULES", "TIE_ORDER_STRONGEST",
    "all_specs", "available_models", "code_settings_specs", "dim_specs", "figure3_spec", "figure3_specs",
    "fill_profile", "gap_specs", "learned_table2_specs", "learned_trial_specs", "omega_specs", "pending_tuned_rows",
    "profile", "released_specs", "rq1_specs", "runtime_specs", "seq_len_specs", "simple_baseline_choices",
    "simple_baseline_spec", "simple_trial_specs", "spec_for", "strongest_baselines", "table2_specs",
    "table3_specs", "table4_specs", "tie_order_models", "tie_order_specs", "tuned_choices", "tuned_omega",
    "tuned_specs", "tuned_table2_specs", "TUNING_BUDGET", "fixed_tuned_rows", "fixed_tuned_specs", "fixed_tunings",
    "tuned_trials", "tuning_labels", "tuning_name", "tunings",
]
