"""Command line of the study: ``python -m attrec_lib [--debug] COMMAND ...``.

Commands: ``run`` (one run, cached), ``grid`` (every run of a profile), ``plan`` (what a profile
needs and how long it will take), ``paper`` (execute and publish the notebooks; ``make paper``),
``compact`` (rewrite older result files in the packed format, same numbers).
A bad input (a config value, a data file, an environment variable) ends with one line naming it
and exit code 2; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

import torch

from .. import models
from ..data import dataset_names
from ..data.preprocess import TIE_RULES
from ..data.registry import SYNTHETIC
from ..engines import grid, ray_engine
from ..runs import compute, runspec, store
from ..settings import paths
from ..settings.validation import check_seed
from ..study import all_runs, profiles
from ..training.train import PROTOCOLS
from . import paper


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items, what: str) -> dict:
    out, given = {}, {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--{what} expects FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        if key in given:
            raise ValueError(f"--{what}: field {key!r} is given twice ({given[key]!r} and {item!r}); give it once")
        given[key] = item
        out[key] = _parse_value(value)
    return out


def check_device(text, address=None) -> None:
    """``--device``: cpu, cuda or cuda:N, and a CUDA device only where this machine has one (on a
    Ray cluster, ``address``, the workers' machines decide: only the spelling is checked)."""
    if text is None:
        return
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise ValueError(f"--device {text} is not a device: use cpu, cuda or cuda:N")
    if text.startswith("cuda") and address is None:
        if not torch.cuda.is_available():
            raise ValueError(f"--device {text}: this machine has no CUDA device (torch {torch.__version__}, "
                             f"torch.cuda.is_available() is False); use --device cpu")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device {text}: this machine has {torch.cuda.device_count()} CUDA device(s)")


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(prog="python -m attrec_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and evaluate one run (cached under results/)")
    r.add_argument("--dataset", required=True, help=f"one of: {', '.join([*dataset_names(), SYNTHETIC])}")
    r.add_argument("--model", default="attrec", help=f"one of: {', '.join(models.model_names())} (default attrec)")
    r.add_argument("--preset", default=None, help="named preset of the model's settings: " + "; ".join(
        f"{m}: {', '.join(sorted(models.presets(m)))}" for m in models.model_names()) + " (default: the config's defaults)")
    r.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    r.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="valid: select the epoch on validation; released: the released code's (no validation)")
    r.add_argument("--tie-rule", default=None,
                   help=f"order inside tied timestamps: {', '.join(TIE_RULES)} or shuffled:<seed> (a random "
                        "order drawn from the seed)")
    r.add_argument("--epochs", type=int, default=None, help="epoch cap (a whole number >= 1)")
    r.add_argument("--set", nargs="*", metavar="FIELD=VALUE",
                   help="model config overrides as JSON values, e.g. omega=0.3 d=50 self_attention=false")
    r.add_argument("--train", nargs="*", metavar="FIELD=VALUE",
                   help="training overrides as JSON values, e.g. patience=0 optimizer=\"adam\"")
    r.add_argument("--device", default=None,
                   help="cpu (default) or cuda / cuda:N: a CUDA run has a key of its own (its numbers round "
                        "differently), so it never replaces or is served as the CPU run")
    r.add_argument("--no-cache", action="store_true", help="compute even if a cached result exists")
    g = sub.add_parser("grid", help="run every spec a notebook profile needs (skips cached runs)")
    g.add_argument("--profile", default=paper.PUBLISHED_PROFILE, choices=profiles.PROFILES,
                   help=f"one of: {', '.join(profiles.PROFILES)} (default {paper.PUBLISHED_PROFILE})")
    g.add_argument("--shard", default="0/1", type=_shard,
                   help="i/n with 0 <= i < n: run every n-th missing spec starting at i (parallel workers)")
    g.add_argument("--device", default=None,
                   help="cpu (the default: the runs the notebooks read) or cuda: the profile's learned models "
                        "run on the GPU(s), several to a card (ATTREC_GPU_RUNS_PER_CARD, default "
                        f"{ray_engine.GPU_RUNS_PER_CARD}), as GPU runs with keys of their own, and its fitted "
                        "baselines on the CPU cores (their CPU runs are reused); the notebooks read CPU runs only")
    g.add_argument("--workers", type=int, default=None,
                   help="runs at a time on a local Ray instance (default: every core); 0 runs them in this process")
    g.add_argument("--address", default=None,
                   help="join the Ray cluster at this address (default: $RAY_ADDRESS) instead of starting one")
    g.add_argument("--list", action="store_true", help="only print the specs and whether they are cached")
    g.add_argument("--part", action="append", choices=all_runs.PARTS, metavar="PART",
                   help="only these groups of runs (repeatable), e.g. --part tuning-trials to go on with the "
                        f"tuning; one of: {', '.join(all_runs.PARTS)}")
    pl = sub.add_parser("plan", help="print the runs a profile needs, how many are cached, and the estimated time")
    pl.add_argument("--profile", default=paper.PUBLISHED_PROFILE, choices=profiles.PROFILES,
                    help=f"one of: {', '.join(profiles.PROFILES)} (default {paper.PUBLISHED_PROFILE})")
    pl.add_argument("--by-part", action="store_true",
                    help="also one line per group of runs (the names `grid --part` takes)")
    pa = sub.add_parser("paper", help="execute the notebooks and publish them when all succeeded (make paper)")
    paper.add_arguments(pa)
    sub.add_parser("compact", help="rewrite older result files under results/ in the packed format (same numbers)")
    return parser


def _shard(text: str) -> tuple:
    """``i/n`` -> (i, n), with 0 <= i < n (argparse reports the ValueError's absence as one line)."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/n (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"expected i/n with n >= 1 and 0 <= i < n, got {text!r}")
    return index, count


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    paths.absolute_environment()  # relative paths in the environment: against where the command started
    try:
        return _dispatch(args)
    except (ValueError, OSError, KeyError) as err:
        # A bad input: a config value, a data file, an environment variable, a folder. One line.
        if args.debug:
            raise
        text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {text} (add --debug for the traceback)", file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    if getattr(args, "device", None) is not None:
        check_device(args.device, getattr(args, "address", None) or os.environ.get("RAY_ADDRESS"))
    if args.command == "grid":
        return _grid(args)
    if args.command == "plan":
        paper.print_plan(args.profile, by_part=args.by_part)
        return 0
    if args.command == "paper":
        return paper.run(args)
    if args.command == "compact":
        out = store.compact_results()
        print(f"{out['rewritten']} of {out['files']} result file(s) rewritten packed with their digest "
              f"({out['skipped']} of another results version left as is, {out['moved_aside']} damaged moved "
              f"aside to results/{store.ASIDE_DIR}/); results/ {out['bytes_before'] / 2**20:.1f} MiB -> "
              f"{out['bytes_after'] / 2**20:.1f} MiB")
        return 0
    check_seed(args.seed, "--seed")
    train = _pairs(args.train, "train")
    if args.epochs is not None:
        train["epochs"] = args.epochs
    device_class = "cpu" if args.device is None else torch.device(args.device).type
    spec = runspec.make_spec(args.dataset, args.model, args.preset, args.seed, args.protocol,
                                 args.tie_rule, train, device_class=device_class, **_pairs(args.set, "set"))
    if args.no_cache:
        result = compute.execute(spec, device=args.device)
    else:
        result = compute.run(spec, device=args.device)
    print(f"run {spec.key}: {spec.dataset} {spec.model} preset={args.preset} seed={spec.seed} "
          f"protocol={spec.protocol} on {result['device']}")
    print(f"{result['epochs_run']} epochs, {result['seconds_per_epoch']:.3f} s/epoch (median), "
          f"{result['seconds_per_eval'] or float('nan'):.3f} s/evaluation")
    for name, sel in result["selections"].items():
        metrics = ", ".join(f"{k[5:]}={v:.4f}" for k, v in sel.items() if k.startswith("test_"))
        print(f"{name:>15} (epoch {sel['epoch']}): test {metrics}")
    return 0


def _grid(args) -> int:
    device_class = torch.device(args.device or "cpu")
    if device_class.index is not None:
        raise ValueError(f"--device {args.device}: a profile's grid takes cpu or cuda (Ray gives each GPU run its "
                         "share of a card); use `run --device cuda:N` for a single run on card N")
    # the profile's specs are built (and its choices made) with its learned models on this class
    with runspec.learned_models_on(device_class.type):
        return _grid_on(args)


def _grid_on(args) -> int:
    index, count = args.shard
    prof = paper.checked_profile(args.profile)
    specs = all_runs.all_specs(prof, parts=args.part)
    plan = grid.plan(specs)
    missing = list(plan.missing)
    print(f"profile {prof.name}: {plan.describe()}", flush=True)
    if args.list:
        for s in specs:
            state = "missing" if s in missing else "cached"
            print(f"{s.key} {state:8} {s.dataset:18} {s.model:10} seed={s.seed}")
        stale = store.stale_results()
        print(f"{len(stale)} file(s) under results/ are never served (another results version or format, "
              f"or broken; current version {runspec.RESULTS_VERSION}):")
        for path, reason in stale:
            print(f"  stale {path.name}: {reason.split(': ', 1)[-1]}")
        return 0
    workers = ray_engine.command_line_workers(args.workers, args.address)
    try:
        ray_engine.resolve_checked(workers, args.address)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if count == 1:
            # device None: each run on its spec's class (fitted baselines on the CPU, GPU runs on a card)
            all_runs.fill_profile(prof, workers=workers, address=args.address, device=None, parts=args.part)
        else:
            ray_engine.run_specs(missing[index::count], workers=workers, address=args.address, device=None)
    except ray_engine.GridFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: every finished run is cached, nothing partial was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
