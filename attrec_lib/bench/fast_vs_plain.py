"""AttRec's fused loss against its plain equations, trained in lockstep on the same batches.

``python -m attrec_lib.bench.fast_vs_plain [--dataset ml-100k] [--epochs 2] [presets ...]``

Two copies of one model (same initialisation, same optimiser) take the same batches, one
step each in turn, in one process and one thread: the CPU seconds per step of each (process
time, interleaved, so a loaded machine disturbs both alike, unlike wall time between separate
runs) and the largest relative parameter difference after each epoch. That difference starts
at float rounding and is then amplified by training itself (a hinge or ReLU that flips changes
the next steps): a copy of the plain model with its W perturbed by 1e-7 drifts the same way.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from .. import models
from ..data.sequences import make_windows
from ..models.base import Batch
from ..training.train import TrainConfig, make_optimizer, sample_negatives
from .core import load_bench_split


def lockstep(split, preset: str, epochs: int = 2, batch_size: int = 1000) -> dict:
    cfg = models.make_config("attrec", preset)
    windows = make_windows(split.train, cfg.seq_len, cfg.n_targets, split.pad)
    pair, opts = [], []
    for fast in (False, True):
        torch.manual_seed(0)
        model = models.build("attrec", split.n_users, split.n_items, cfg)
        model.use_fast_loss = fast
        pair.append(model)
        opts.append(make_optimizer(model, TrainConfig(**models.training_overrides("attrec", preset)), model.whole_tensor_l2()))
    rng = np.random.default_rng(0)
    cpu, drift = ([], []), []
    n_batches = max(len(windows) // batch_size, 1)
    for _ in range(epochs):
        order = rng.permutation(len(windows))
        neg = sample_negatives(rng, windows.targets, split.n_items)
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = Batch(*(torch.as_tensor(a[idx]) for a in (windows.users, windows.inputs, windows.targets, neg)))
            for model, opt, times in zip(pair, opts, cpu):
                c0 = time.process_time()
                opt.zero_grad(set_to_none=True)
                model.loss_without_whole_tensor_l2(batch).backward()  # the whole-tensor L2 is in the optimiser
                opt.step()
                times.append(time.process_time() - c0)
        drift.append(max(float((p.detach() - q.detach()).abs().max() / p.detach().abs().max().clamp_min(1e-30))
                         for p, q in zip(pair[0].parameters(), pair[1].parameters())))
    return {"preset": preset, "steps_per_epoch": n_batches,
            "plain_cpu_ms_per_step": 1e3 * statistics.median(cpu[0]),
            "fast_cpu_ms_per_step": 1e3 * statistics.median(cpu[1]),
            "max_relative_parameter_difference_per_epoch": drift}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("presets", nargs="*", default=["paper", "released_code"])
    ap.add_argument("--dataset", default="ml-100k", choices=["ml-100k", "ml-1m-shaped"])
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    split = load_bench_split(args.dataset)
    for preset in args.presets:
        r = lockstep(split, preset, args.epochs)
        print(f"{args.dataset} attrec/{preset}: CPU ms/step plain {r['plain_cpu_ms_per_step']:.2f}, fast "
              f"{r['fast_cpu_ms_per_step']:.2f} ({r['plain_cpu_ms_per_step'] / r['fast_cpu_ms_per_step']:.2f}x); "
              f"parameter difference per epoch {['%.1e' % x for x in r['max_relative_parameter_difference_per_epoch']]}",
              flush=True)


if __name__ == "__main__":
    main()
