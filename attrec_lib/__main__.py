"""Command line: ``python -m attrec_lib run --dataset ml-100k --model attrec --preset paper --seed 0``."""
from __future__ import annotations

import argparse
import json
import sys


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items, what: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"error: --{what} expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = _parse_value(value)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and evaluate one run (cached under results/)")
    r.add_argument("--dataset", required=True)
    r.add_argument("--model", default="attrec")
    r.add_argument("--preset", default=None, help="named preset of the model (attrec: paper, released_code)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--protocol", choices=["valid", "released"], default=None)
    r.add_argument("--tie-rule", choices=["stable", "released"], default=None)
    r.add_argument("--epochs", type=int, default=None)
    r.add_argument("--set", nargs="*", metavar="FIELD=VALUE", help="model config overrides, e.g. omega=0.3")
    r.add_argument("--train", nargs="*", metavar="FIELD=VALUE", help="training overrides, e.g. patience=0")
    r.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    r.add_argument("--no-cache", action="store_true", help="compute even if a cached result exists")
    g = sub.add_parser("grid", help="run every spec a notebook profile needs (skips cached runs)")
    g.add_argument("--profile", default="full")
    g.add_argument("--shard", default="0/1", help="i/n: run only every n-th missing spec starting at i (splitting by hand; --workers is simpler)")
    g.add_argument("--device", default=None)
    g.add_argument("--workers", type=int, default=None,
                   help="runs at a time on a local Ray instance (default: every core); 0 runs them in this process")
    g.add_argument("--address", default=None,
                   help="join the Ray cluster at this address (default: $RAY_ADDRESS) instead of starting one")
    g.add_argument("--list", action="store_true", help="only print the specs and whether they are cached")
    args = parser.parse_args(argv)

    if args.command == "grid":
        return _grid(args)
    from . import experiments
    train = _pairs(args.train, "train")
    if args.epochs is not None:
        train["epochs"] = args.epochs
    try:
        spec = experiments.make_spec(args.dataset, args.model, args.preset, args.seed, args.protocol,
                                     args.tie_rule, train, **_pairs(args.set, "set"))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.no_cache:
        result = experiments.execute(spec, device=args.device)
    else:
        result = experiments.run(spec, device=args.device)
    print(f"run {spec.key}: {spec.dataset} {spec.model} preset={args.preset} seed={spec.seed} "
          f"protocol={spec.protocol} on {result['device']}")
    print(f"{result['epochs_run']} epochs, {result['seconds_per_epoch']:.3f} s/epoch (median), "
          f"{result['seconds_per_eval'] or float('nan'):.3f} s/evaluation")
    for name, sel in result["selections"].items():
        metrics = ", ".join(f"{k[5:]}={v:.4f}" for k, v in sel.items() if k.startswith("test_"))
        print(f"{name:>15} (epoch {sel['epoch']}): test {metrics}")
    return 0


def _grid(args) -> int:
    from . import experiments, study
    try:
        index, count = (int(x) for x in args.shard.split("/"))
        prof = study.profile(args.profile)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    specs = study.all_specs(prof)
    missing = [s for s in specs if experiments.load_result(s) is None]
    print(f"profile {prof.name}: {len(specs)} runs, {len(missing)} not cached", flush=True)
    if args.list:
        for s in specs:
            state = "missing" if s in missing else "cached"
            print(f"{s.key} {state:8} {s.dataset:18} {s.model:10} seed={s.seed}")
        return 0
    from . import execution
    workers = execution.command_line_workers(args.workers, args.address)
    try:
        execution.resolve(workers, args.address)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if count == 1:
            execution.fill_profile(prof, workers=workers, address=args.address, device=args.device)
        else:
            execution.run_specs(missing[index::count], workers=workers, address=args.address, device=args.device)
    except execution.GridFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: every finished run is cached, nothing partial was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
