"""Speed benchmark (``make bench``), its FLOP table and the GPU check (``make gpu-check``).

``python -m attrec_lib.bench`` runs :func:`core.main`; the public pieces are re-exported here.
"""
from .core import (CONFIGS, DATASETS, PAPER_TABLE5, TARGETS, add_floors, check_targets, copy_gbps, format_table, load_bench_split, main, matmul_gflops, measure, run_child)
from .flops import bytes_per_window, eval_flops, flops_per_window, table_bytes

__all__ = ["CONFIGS", "DATASETS", "PAPER_TABLE5", "TARGETS", "add_floors", "bytes_per_window", "check_targets",
           "copy_gbps", "eval_flops", "flops_per_window", "format_table", "load_bench_split",
           "main", "matmul_gflops", "measure", "run_child", "table_bytes"]
