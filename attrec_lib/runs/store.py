"""Runs and the run cache: one spec -> one JSON file under ``results/``.

A run is fully described by a :class:`RunSpec` (data set, model, resolved model config,
resolved training config, protocol, tie rule, seed). A result is a function of three things,
and its key (:attr:`RunSpec.key`, the file name ``results/<key>.json``) hashes all three:

* the canonical spec: config values normalised through the config dataclasses (``100`` and
  ``100.0`` are one value; a bool field takes ``True``, not ``1``), with the fields that cannot
  change a number left out (:data:`KEY_EXCLUDED_TRAINING`, e.g. the evaluation batch size);
* :data:`RESULTS_VERSION`, bumped in every commit that changes any run's numbers (together with
  the golden runs under ``tests/goldens/``: ``make goldens``);
* a fingerprint of the processed data (sha256 of the split's arrays, :func:`data_fingerprint`).

The result is written atomically (a temporary file, then a rename); :func:`run` returns the
cached result when the file exists, so a killed sweep loses only the run in progress and never
reads a partial file. Loading checks the file's format, results version and recorded key: a
file that does not match is one error naming it, never a silently served number.
:func:`run_grid` runs what is missing and returns one DataFrame row per run. Every run trains
and evaluates on one intra-op thread (``train.one_thread``), so a key always gives the same bits
on a CPU; device, thread count and code commit are recorded in the result, not in the key.

``make paper FRESH=1`` sets ``ATTREC_FRESH_SINCE`` (a unix time): cached results finished
before it are recomputed (runs shared by several notebooks are computed once per build).
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import __version__, models
from ..settings import paper_numbers, paths
from ..settings.atomic import replace_atomically
from ..data.preprocess import check_tie_rule
from ..data.splits import LEAVE_LAST_OUT, check_split, make_split, sequence_timestamps
from ..training.train import PROTOCOLS, TrainConfig, default_device, device_name, fit, one_thread
from ..settings.validation import check_types

# Layout of a result JSON. 2: results_version, data fingerprint, threads; 3: the per-user arrays
# stored packed (:func:`pack_ints`). Format 2 files are still read (``python -m attrec_lib compact``
# rewrites them as 3); the numbers are the same in both.
RESULT_FORMAT = 3
READABLE_FORMATS = (2, 3)
# Prefix of a packed integer array: little-endian int32, zlib-compressed, base64.
PACKED_PREFIX = "i4-zlib-b64:"
# Bump in the commit that changes any run's numbers (code, defaults, data pipeline), together with
# the golden runs (``make goldens``); results of another version are never read as results.
RESULTS_VERSION = 3
# TrainConfig fields that cannot change a run's numbers, left out of the run key.
KEY_EXCLUDED_TRAINING = ("eval_batch_size",)
# Fields every result file must have (checked on load).
RESULT_FIELDS = ("format", "results_version", "spec", "spec_key", "data_fingerprint", "selections",
                 "per_user", "history", "epochs_run", "seconds_per_epoch", "device", "threads",
                 "code_version", "finished_at")


class ResultFileError(ValueError):
    """A file under results/ that cannot be served as the result of the spec it was looked up for."""


def _canonical_value(owner: str, name: str, kind: str, value):
    """``value`` of field ``name`` as the type the config dataclass declares (``kind``)."""
    bad = ValueError(f"{owner}.{name}: expected {kind}, got {value!r}")
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise bad
    if isinstance(value, (bool, np.bool_)):
        raise bad
    if kind == "float":
        if isinstance(value, (int, float, np.integer, np.floating)):
            return float(value)
        raise bad
    if kind == "int":
        if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating))
                                                     and float(value).is_integer()):
            return int(value)
        raise bad
    if kind == "str":
        if isinstance(value, str):
            return value
        raise bad
    return value


def canonical_config(cls, values: dict, owner: str) -> dict:
    """Every field of dataclass ``cls`` from ``values`` (defaults for the missing ones), each
    normalised to its declared type; an unknown field is an error naming it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"{owner}: unknown field(s) {sorted(unknown)}")
    out = {}
    for name, f in fields.items():
        value = values[name] if name in values else getattr(cls(), name)
        out[name] = _canonical_value(owner, name, str(f.type), value)
    return out


@functools.lru_cache(maxsize=None)
def data_fingerprint(dataset: str, tie_rule: str) -> str:
    """sha256 (16 hex digits) of the processed data's split arrays (validation item held out,
    which contains every item of every sequence), computed once per process."""
    return split_fingerprint(load_split(dataset, tie_rule, True))


def split_fingerprint(split) -> str:
    """sha256 (16 hex digits) of a split's arrays: sizes, training sequences, valid and test items."""
    digest = hashlib.sha256(f"{split.n_users} {split.n_items} {split.pad}".encode())
    for items in split.train:
        arr = np.ascontiguousarray(np.asarray(items, dtype=np.int64))
        digest.update(len(arr).to_bytes(8, "little"))
        digest.update(arr.tobytes())
    for arr in (split.valid, split.test):
        digest.update(np.ascontiguousarray(np.asarray(arr, dtype=np.int64)).tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    model: str
    model_config: dict = field(default_factory=dict)  # every field of the model's config, resolved
    train_config: dict = field(default_factory=dict)  # every field of TrainConfig, resolved
    protocol: str = "valid"  # "valid" (validation-selected) or "released" (no validation, test-selected)
    tie_rule: str = "stable"  # how rows with equal timestamps are ordered: stable, released, shuffled:<seed> (see data)
    seed: int = 0
    # which targets are held out (data.splits): leave_last_out (the paper's), first_occurrence, global_time:<q>.
    # Left out of to_dict (so of the key and the result file) at its default: older keys stay as they were.
    split: str = LEAVE_LAST_OUT

    def to_dict(self) -> dict:
        d = {"dataset": self.dataset, "model": self.model, "model_config": dict(self.model_config),
             "train_config": dict(self.train_config), "protocol": self.protocol,
             "tie_rule": self.tie_rule, "seed": self.seed}
        if self.split != LEAVE_LAST_OUT:
            d["split"] = self.split
        return d

    def canonical(self) -> dict:
        """The spec with config values normalised to their declared types (see the module doc)."""
        d = self.to_dict()
        d["model_config"] = canonical_config(models.config_class(self.model), d["model_config"],
                                             f"model_config ({self.model})")
        d["train_config"] = canonical_config(TrainConfig, d["train_config"], "train_config")
        d["seed"] = _canonical_value("spec", "seed", "int", self.seed)
        return d

    def key_payload(self, fingerprint: str | None = None) -> dict:
        """What the run key hashes: canonical spec (minus fields that change no number),
        results version, data fingerprint (of the registered data set unless given)."""
        d = self.canonical()
        for name in KEY_EXCLUDED_TRAINING:
            d["train_config"].pop(name)
        if fingerprint is None:
            fingerprint = data_fingerprint(self.dataset, self.tie_rule)
        return {"spec": d, "results_version": RESULTS_VERSION, "data": fingerprint}

    def key_for(self, fingerprint: str | None = None) -> str:
        """sha256 of the canonical JSON of :meth:`key_payload` (first 16 hex digits)."""
        text = json.dumps(self.key_payload(fingerprint), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """The run key: :meth:`key_for` the registered data set's fingerprint."""
        return self.key_for()

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(**d)


def make_spec(dataset: str, model: str = "attrec", preset: str | None = "paper", seed: int = 0,
              protocol: str | None = None, tie_rule: str | None = None, train: dict | None = None,
              split: str = LEAVE_LAST_OUT, **model_overrides) -> RunSpec:
    """Build a fully resolved spec. ``preset="released_code"`` also defaults the protocol and the
    tie rule to the released code's (no validation item, the authors' tie rule). ``split``: which
    targets are held out (``data.splits``; every split but leave-last-out needs protocol "valid")."""
    if preset is not None and preset not in models.presets(model):
        preset_known = sorted(models.presets(model))
        raise ValueError(f"unknown preset {preset!r} for model {model!r}; known presets: {preset_known}")
    released = preset == "released_code"
    protocol = protocol or ("released" if released else "valid")
    tie_rule = tie_rule or ("released" if released else "stable")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    check_tie_rule(tie_rule)  # "stable", "released" or "shuffled:<seed>"; a clear error otherwise
    check_split(split)
    if split != LEAVE_LAST_OUT and protocol != "valid":
        raise ValueError(f"split {split!r} holds out a validation item: it needs protocol 'valid', got {protocol!r}")
    mcfg = models.make_config(model, preset, **model_overrides)
    tfields = {**models.training_overrides(model, preset), **(train or {})}
    unknown = set(tfields) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown training field(s) {sorted(unknown)}")
    tcfg = check_types(TrainConfig(**tfields)).validate()
    spec = RunSpec(dataset, model, dataclasses.asdict(mcfg), dataclasses.asdict(tcfg), protocol, tie_rule, int(seed),
                   split)
    canonical = spec.canonical()
    return dataclasses.replace(spec, model_config=canonical["model_config"], train_config=canonical["train_config"])


@functools.lru_cache(maxsize=8)
def load_split(dataset: str, tie_rule: str, hold_out_valid: bool, split: str = LEAVE_LAST_OUT):
    from ..data import load_dataset
    data = load_dataset(dataset, tie_rule=tie_rule)
    timestamps = sequence_timestamps(dataset, tie_rule) if split.startswith("global_time") else None
    return make_split(data, split, hold_out_valid=hold_out_valid, timestamps=timestamps)


def result_path(spec: RunSpec):
    return paths.results_dir() / f"{spec.key}.json"


def read_result_file(path, expected_key: str | None = None) -> dict:
    """A result file's contents, checked: valid JSON object, every field of
    :data:`RESULT_FIELDS`, the current format and results version, and (when given) the key it
    was looked up under. Anything else is one :class:`ResultFileError` naming the file; a file
    that is not JSON at all (truncated, bit-flipped) raises the decoder's error, which
    :func:`load_result` treats as damage to rebuild."""
    result = json.loads(path.read_text())
    if not isinstance(result, dict):
        raise ResultFileError(f"result file {path}: expected a JSON object, got {type(result).__name__}")
    if "format" in result and result["format"] not in READABLE_FORMATS:
        raise ResultFileError(f"result file {path}: format {result['format']!r}, this code reads "
                              f"{' and '.join(map(str, READABLE_FORMATS))}; delete it to recompute")
    if "results_version" in result and result["results_version"] != RESULTS_VERSION:
        raise ResultFileError(f"result file {path}: results_version {result['results_version']!r}, current is "
                              f"{RESULTS_VERSION}; a result of another version is never served (delete it to "
                              "recompute)")
    missing = [f for f in RESULT_FIELDS if f not in result]
    if missing:
        raise ResultFileError(f"result file {path}: missing field(s) {missing}; delete it to recompute")
    if expected_key is not None and result["spec_key"] != expected_key:
        raise ResultFileError(f"result file {path}: records key {result['spec_key']!r} but was looked up as "
                              f"{expected_key!r} (another run's result under this name); delete it to recompute")
    try:
        return _unpacked(result)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        raise ResultFileError(f"result file {path}: its per-user arrays do not unpack ({err}); delete it to "
                              "recompute") from err


# ---------------------------------------------------------------- compact per-user arrays

def pack_ints(values) -> str:
    """``values`` (non-negative ints below 2**31) as one short string: little-endian int32,
    zlib-compressed, base64, behind :data:`PACKED_PREFIX`. :func:`unpack_ints` inverts it."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.ndim != 1 or (arr.size and (arr.min() < 0 or arr.max() >= 2 ** 31)):
        raise ValueError("pack_ints takes a flat sequence of integers in [0, 2**31)")
    return PACKED_PREFIX + base64.b64encode(zlib.compress(arr.astype("<i4").tobytes(), 9)).decode("ascii")


def unpack_ints(text: str) -> list:
    """The list of ints that :func:`pack_ints` packed into ``text``."""
    if not text.startswith(PACKED_PREFIX):
        raise ValueError(f"not a packed array (expected the prefix {PACKED_PREFIX!r})")
    raw = zlib.decompress(base64.b64decode(text[len(PACKED_PREFIX):], validate=True))
    return np.frombuffer(raw, dtype="<i4").astype(np.int64).tolist()


def _packed(result: dict) -> dict:
    """The file form of a result (format 3): its per-user arrays packed."""
    out = dict(result, format=RESULT_FORMAT)
    out["per_user"] = {sel: {name: pack_ints(values) for name, values in arrays.items()}
                       for sel, arrays in result["per_user"].items()}
    return out


def _unpacked(result: dict) -> dict:
    """The in-memory form of a result read from a file of either format: per-user arrays as lists."""
    if result.get("format") != 3 or not isinstance(result.get("per_user"), dict):
        return result
    result = dict(result)
    result["per_user"] = {sel: {name: unpack_ints(values) for name, values in arrays.items()}
                          for sel, arrays in result["per_user"].items()}
    return result


def compact_results(directory=None) -> dict:
    """Rewrite every readable format-2 result file under ``directory`` as format 3, each file
    replaced atomically and only after its packed form was checked to read back to the same
    result. Returns counts and the folder's size in bytes before and after."""
    directory = Path(directory or paths.results_dir())
    files = sorted(directory.glob("*.json"))
    before = sum(p.stat().st_size for p in files)
    rewritten = skipped = 0
    for path in files:
        try:
            result = read_result_file(path)
        except (ResultFileError, json.JSONDecodeError, UnicodeDecodeError):
            skipped += 1  # stale or damaged: left for `stale_results` / a rebuild to deal with
            continue
        if result.get("format") == RESULT_FORMAT:
            continue
        packed = _packed(result)
        if _unpacked(json.loads(json.dumps(packed))) != dict(result, format=RESULT_FORMAT):
            raise RuntimeError(f"result file {path}: packing does not read back to the same result; left as is")
        _write_atomic(path, packed, pack=False)
        rewritten += 1
    after = sum(p.stat().st_size for p in sorted(directory.glob("*.json")))
    return {"files": len(files), "rewritten": rewritten, "skipped": skipped, "bytes_before": before,
            "bytes_after": after}


def load_result(spec: RunSpec) -> dict | None:
    """The cached result of ``spec``, or None (also when it is older than a FRESH build).
    A file that is there but does not check out raises :class:`ResultFileError`."""
    path = result_path(spec)
    fresh_since = paths.fresh_since()  # checked even when nothing is cached: a bad value fails at once
    if not path.exists():
        return None
    try:
        result = read_result_file(path, spec.key)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:  # truncated, emptied, bit-flipped
        warnings.warn(f"cached result {path} is damaged ({err}); recomputing it", stacklevel=2)
        return None
    recorded = RunSpec.from_dict(result["spec"])
    if recorded.key != spec.key:
        raise ResultFileError(f"result file {path}: its recorded spec hashes to {recorded.key}, not {spec.key}; "
                              "delete it to recompute")
    if fresh_since is not None and result.get("finished_at", 0) < fresh_since:
        return None
    return result


def check_writable(folder) -> None:
    """Raise ``PermissionError`` naming ``folder`` when a file cannot be created in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise PermissionError(f"results folder {folder} is not writable ({err.strerror or err}); fix its "
                              f"permissions or point ATTREC_RESULTS_DIR at a writable folder") from err


def _write_atomic(path, payload: dict, pack: bool = True) -> None:
    """Write a result (in-memory form; ``pack=False``: already in file form) to ``path`` atomically."""
    text = json.dumps(_packed(payload) if pack else payload, indent=1, sort_keys=True).encode()
    replace_atomically(path, lambda fh: fh.write(text))


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """Git commit of the repository (if any) and a hash of the library's source files."""
    digest = hashlib.sha256()
    for path in sorted(paths.REPO_ROOT.joinpath("attrec_lib").rglob("*.py")):
        digest.update(path.relative_to(paths.REPO_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"library": __version__, "source_sha256": digest.hexdigest()[:16], "git_commit": commit}


def stale_results(directory=None) -> list:
    """(path, reason) of every result file that would not be served: another results version or
    format, a missing field, unreadable JSON, or a name that is not its recorded key."""
    directory = directory or paths.results_dir()
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            result = read_result_file(path)
            if path.stem != result["spec_key"]:
                raise ResultFileError(f"result file {path}: named {path.stem} but records key {result['spec_key']}")
        except ResultFileError as err:
            out.append((path, str(err)))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            out.append((path, f"damaged result file {path}: {err}"))
    return out


def execute(spec: RunSpec, device=None, progress: bool = True, split=None) -> dict:
    """Train and evaluate one run (no cache involved) and return its result record."""
    device = torch.device(device) if device is not None else default_device()
    with one_thread():
        return _execute(spec, device, progress, split)


def _execute(spec: RunSpec, device, progress, split) -> dict:
    torch.manual_seed(spec.seed)
    if split is None:
        split = load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid", spec.split)
        fingerprint = data_fingerprint(spec.dataset, spec.tie_rule)
    else:  # a split given by the caller (tests, never cached): the fingerprint of that split
        fingerprint = split_fingerprint(split)
    mcfg = models.make_config(spec.model, None, **spec.model_config)
    model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    tcfg = TrainConfig(**spec.train_config)
    t0 = time.time()
    fitted = fit(model, split, tcfg, spec.seed, spec.protocol, device=device, progress=progress,
                 description=f"{spec.dataset}/{spec.model}/s{spec.seed}")
    selections, per_user = {}, {}
    for name, best in fitted.best.items():
        best = dict(best)
        best.pop("_key")
        per_user[name] = {"test_users": best.pop("test_users"), "test_ranks": best.pop("test_ranks")}
        selections[name] = best
    return {
        "format": RESULT_FORMAT,
        "results_version": RESULTS_VERSION,
        "spec": spec.canonical(),
        "spec_key": spec.key_for(fingerprint),
        "data_fingerprint": fingerprint,
        "selections": selections,
        "per_user": per_user,
        "history": fitted.history,
        "epochs_run": len(fitted.seconds_per_epoch),
        "stopped_early": fitted.stopped_early,
        "seconds_per_epoch": statistics.median(fitted.seconds_per_epoch),
        "seconds_per_eval": statistics.median(fitted.seconds_per_eval) if fitted.seconds_per_eval else None,
        "epoch_seconds": fitted.seconds_per_epoch,
        "wall_seconds": time.time() - t0,
        "device": device_name(device),
        "threads": torch.get_num_threads(),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "code_version": code_version(),
        "finished_at": time.time(),
    }


def run(spec: RunSpec, device=None, progress: bool = True) -> dict:
    """The result of ``spec``: from the cache when present, else computed and cached."""
    cached = load_result(spec)
    if cached is not None:
        return cached
    check_writable(paths.results_dir())  # before training, not after: a result that cannot be saved is lost
    result = execute(spec, device=device, progress=progress)
    _write_atomic(result_path(spec), result)
    return result


def headline_selection(result: dict) -> str:
    """The selection a table reports by default: validation-selected when there is one."""
    return "valid_selected" if "valid_selected" in result["selections"] else "test_selected"


def result_row(result: dict) -> dict:
    """One flat row: spec fields, config fields (``cfg.*``), metrics of both selections."""
    spec = result["spec"]
    row = {"dataset": spec["dataset"], "model": spec["model"], "seed": spec["seed"],
           "protocol": spec["protocol"], "tie_rule": spec["tie_rule"], "key": result["spec_key"]}
    row.update({f"cfg.{k}": v for k, v in spec["model_config"].items()})
    head = headline_selection(result)
    row["selection"] = head
    for sel_name, prefix in ((head, ""), ("test_selected", "test_sel_")):
        sel = result["selections"].get(sel_name)
        if sel is None:
            continue
        row[f"{prefix}epoch"] = sel["epoch"]
        for k, v in sel.items():
            if k.startswith("test_"):
                row[f"{prefix}{k[len('test_'):]}"] = v
        if sel_name == "valid_selected":
            for k, v in sel.items():
                if k.startswith("valid_"):
                    row[k] = v
    row["seconds_per_epoch"] = result["seconds_per_epoch"]
    row["seconds_per_eval"] = result["seconds_per_eval"]
    row["epochs_run"] = result["epochs_run"]
    row["device"] = result["device"]
    return row


def _in_kernel() -> bool:
    """True inside a Jupyter kernel, where ipykernel forwards sys.stderr (and fd 2) into the
    notebook's outputs."""
    return type(sys.stderr).__module__.startswith("ipykernel")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (pytest and callers swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _run_log_handler() -> logging.Handler:
    """Where run progress goes. A command line keeps it on stderr. Inside a notebook kernel
    (``make paper``, papermill), stderr would land in the notebook as one box per run, so it goes
    to the controlling terminal (/dev/tty: the terminal that typed ``make paper``, which the
    kernel shares without passing through the notebook) and, where there is none (CI), to the log
    file ``paths.run_log_file()``."""
    if not _in_kernel():
        return _StderrHandler()
    if os.environ.get("ATTREC_RUN_LOG") is None:
        try:
            return logging.StreamHandler(open("/dev/tty", "w", buffering=1))  # noqa: SIM115
        except OSError:
            pass
    path = paths.run_log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(path)


def run_logger() -> logging.Logger:
    """The logger of run progress ("[i/n] dataset model seed ... (cached)"), set up once."""
    logger = logging.getLogger("attrec.runs")
    if not logger.handlers:
        handler = _run_log_handler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def run_in_process(specs, device=None, progress: bool = True, log: logging.Logger | None = None) -> tuple:
    """Every spec's result, keyed by spec key, computing the missing ones here one after another
    (each on one thread, inside :func:`run`); returns ``(results, number computed)``. With
    ``progress`` each run's line goes to ``log`` (``run_logger()`` unless given: the terminal,
    never the notebook)."""
    if progress and log is None:
        log = run_logger()
    # Epoch bars would be drawn into the notebook inside a kernel; the log lines say enough there.
    fit_progress = progress and not _in_kernel()
    results, computed = {}, 0
    for i, spec in enumerate(specs, 1):
        cached = results.get(spec.key) or load_result(spec)
        if progress:
            state = "cached" if cached is not None else "running"
            log.info("[%d/%d] %s %s seed=%s protocol=%s (%s)", i, len(specs), spec.dataset, spec.model,
                     spec.seed, spec.protocol, state)
        if cached is None:
            computed += 1
            cached = run(spec, device=device, progress=fit_progress)
        results[spec.key] = cached
    return results, computed


def run_grid(specs, device=None, progress: bool = True, log: logging.Logger | None = None, workers=None,
             address=None) -> pd.DataFrame:
    """Run every spec not yet cached, return one row per spec.

    ``workers=0`` runs them here one after another (:func:`run_in_process`); ``workers=N`` on a
    local Ray instance with N single-threaded tasks at a time; ``address`` on an existing Ray
    cluster. Unset, they come from ``ATTREC_WORKERS`` and ``RAY_ADDRESS``, else in-process (see
    ``execution``). With ``progress``, one summary line is printed on stdout, which is what a
    notebook shows: "N runs: M from the cache, K computed"; without it, nothing is written.
    """
    from ..engines import ray_engine as execution
    specs = list(specs)
    workers, address = execution.resolve(workers, address)
    if workers == 0:
        results, computed = run_in_process(specs, device=device, progress=progress, log=log)
    else:
        before = sum(load_result(s) is None for s in {s.key: s for s in specs}.values())
        results = execution.run_specs(specs, workers=workers, address=address, device=device, progress=progress)
        computed = before
    if progress:
        print(f"{len(specs)} runs: {len(specs) - computed} from the cache, {computed} computed", flush=True)
    return pd.DataFrame([result_row(results[spec.key]) for spec in specs])


@dataclass(frozen=True)
class Plan:
    """What running a list of specs will cost, before anything runs (see :func:`plan`)."""
    total: int  # distinct runs needed
    cached: int  # of which already in the run cache
    to_compute: int  # of which still to train
    estimated_seconds: float  # compute time of the runs to train that have a timing on record
    estimated_runs: int  # runs to train with an estimate (same model and data set cached before)
    missing: tuple = ()  # the specs to train, in order
    scaled_runs: int = 0  # of the estimated ones, those scaled from the model's runs on other data sets

    @property
    def basis(self) -> str:
        text = (f"basis: median recorded s/epoch of cached runs of the same model and data set x their median "
                f"epochs run (at most the run's epoch cap) x their wall/training time, for "
                f"{self.estimated_runs - self.scaled_runs} of {self.to_compute} runs")
        if self.scaled_runs:
            text += (f"; for {self.scaled_runs} more, the model's s/epoch per training item on other data sets "
                     "x this set's training items")
        unknown = self.to_compute - self.estimated_runs
        if unknown:
            text += f"; {unknown} run(s) of models with no timing on record are left out"
        return text

    def describe(self) -> str:
        lines = [f"plan: {self.total} runs needed, {self.cached} cached, {self.to_compute} to compute"]
        if self.to_compute and self.estimated_runs:
            hours, rest = divmod(int(round(self.estimated_seconds)), 3600)
            clock = f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
            lines.append(f"estimated compute time: {clock} at the recorded speed ({self.basis})")
        elif self.to_compute:
            lines.append("estimated compute time: unknown (no cached run of these models has a recorded speed)")
        return "\n".join(lines)


def plan(specs) -> Plan:
    """Count the distinct runs ``specs`` need, how many are cached, and estimate the compute time of
    the rest (:func:`execution.estimate_seconds`: the recorded speed of cached runs of the same
    model on the same data set, else on other data sets scaled by training items)."""
    from ..engines.ray_engine import estimate_seconds
    unique = list({spec.key: spec for spec in specs}.values())
    missing = [s for s in unique if load_result(s) is None]
    estimates = estimate_seconds(missing, with_basis=True) if missing else []
    seconds = sum(e for e, _ in estimates if e is not None)
    estimated = sum(1 for e, _ in estimates if e is not None)
    scaled = sum(1 for _, how in estimates if how == "scaled")
    return Plan(len(unique), len(unique) - len(missing), len(missing), seconds, estimated, tuple(missing), scaled)


def trained_model(spec: RunSpec, device="cpu", progress: bool = False):
    """The model of ``spec`` at its headline epoch, for inspection (Figure 3's attention maps).

    The run cache keeps metrics, not weights. Training is deterministic for a spec and seed, so
    retraining for exactly the headline epoch's number of epochs rebuilds that epoch's weights;
    they are cached under ``results/models/<key>-e<epoch>.pt``.
    """
    result = run(spec, progress=progress)
    epoch = result["selections"][headline_selection(result)]["epoch"]
    path = paths.results_dir() / "models" / f"{spec.key}-e{epoch}.pt"
    split = load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid", spec.split)
    mcfg = models.make_config(spec.model, None, **spec.model_config)
    model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    if path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu"))
            return model.eval()
        except Exception as exc:  # truncated, emptied or not this model's weights: retrain below
            warnings.warn(f"cached model weights {path} are damaged ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); retraining them", stacklevel=2)
            model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    torch.manual_seed(spec.seed)
    tcfg = TrainConfig(**{**spec.train_config, "epochs": epoch, "patience": 0,
                          "eval_every": max(epoch, 1)})
    fit(model, split, tcfg, spec.seed, spec.protocol, device=device, progress=progress)  # one thread inside
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    replace_atomically(path, lambda fh: torch.save(state, fh))
    return model.cpu().eval()


def figure3_maps(spec: RunSpec, users=paper_numbers.FIGURE3_USERS) -> dict:
    """L x L attention weights of the model of ``spec`` (an AttRec run) at its headline epoch for
    the given raw user ids, computed on each user's test input (the last L items before the test
    item). On a data set without those users (the tiny profile's synthetic set), the first two
    users."""
    from ..data import load_processed
    model = trained_model(spec)
    split = load_split(spec.dataset, spec.tie_rule, True)
    index = {raw: i for i, raw in enumerate(load_processed(spec.dataset).user_ids)}
    if not all(raw in index for raw in users):
        users = tuple(index)[:2]
    inputs = split.eval_inputs("test", spec.model_config["seq_len"])
    return {f"{spec.dataset} user {raw}": model.attention_weights(torch.as_tensor(inputs[[index[raw]]]))[0].numpy()
            for raw in users}
