"""One trainer for every model: windows, negatives, optimiser, per-epoch evaluation.

Each epoch: the training windows (L inputs, T targets; see ``data.sequences.make_windows``) are
shuffled and T negatives per window are drawn uniformly, with replacement, from the items that
are not among that window's targets (the released code's rule; ``negatives="user_history"``
excludes the user's whole training history instead). All randomness comes from one seeded
numpy generator plus ``torch.manual_seed`` for initialisation, so the same spec and seed give
identical results on the CPU.

Model selection (``protocol``):

* ``"valid"`` (the paper's stated protocol, our headline): a validation item is held out; the
  best epoch is the one with the highest validation HR@50, and training stops after
  ``patience`` evaluations without improvement. Test metrics are recorded at every evaluated
  epoch too, so the best *test* epoch can be reported, labelled, beside it.
* ``"released"`` (what the authors' code does): no validation item; the test item is evaluated
  every epoch and the best test epoch is reported.
"""
from __future__ import annotations

import contextlib
import math
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.sequences import Split, Windows, make_windows
from ..models.base import Batch, check_choice, check_range, compile_enabled
from .evaluate import HistoryIndex, evaluate

PROTOCOLS = ("valid", "released")
SELECT_METRIC = "hr@50"


class TrainingDiverged(FloatingPointError, ValueError):
    """The loss became NaN or infinite: a bad setting (the learning rate, most often), one line at
    the command line."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40  # maximum number of epochs (the paper: AttRec peaks within 30 on ML-100K)
    batch_size: int = 1000  # windows per batch (paper, released code)
    optimizer: str = "adagrad"  # "adagrad" (AttRec), "adam" (Caser, SASRec, ...)
    lr: float = 0.05  # learning rate (paper: 0.05 with Adagrad, untuned)
    initial_accumulator: float = 0.1  # Adagrad's initial accumulator (TensorFlow default 0.1; code 0.05)
    weight_decay: float = 0.0  # optimiser-side L2 (Caser's 1e-6); models also carry their own L2
    negatives: str = "window_targets"  # negatives avoid the window's targets, or the whole "user_history"
    drop_last: bool = True  # drop the last partial batch of an epoch (the released code does)
    eval_every: int = 1  # evaluate every k epochs (and always after the last one)
    patience: int = 10  # evaluations without improvement of the selection metric before stopping; 0 = never stop
    eval_batch_size: int = 1024  # users scored at once during evaluation (bounds memory)
    max_batches: int = 0  # train on at most this many batches per epoch (0 = all; the golden runs cap it)

    def validate(self) -> "TrainConfig":
        check_range("epochs", self.epochs, 1)
        check_range("batch_size", self.batch_size, 1)
        check_range("lr", self.lr, 0.0, low_open=True)
        check_range("initial_accumulator", self.initial_accumulator, 0.0)
        check_range("weight_decay", self.weight_decay, 0.0)
        check_range("eval_every", self.eval_every, 1)
        check_range("patience", self.patience, 0)
        check_range("eval_batch_size", self.eval_batch_size, 1)
        check_range("max_batches", self.max_batches, 0)
        check_choice("optimizer", self.optimizer, {"adagrad", "adam", "sgd"})
        check_choice("negatives", self.negatives, {"window_targets", "user_history"})
        return self


@dataclass
class FitResult:
    history: list = field(default_factory=list)  # one dict per evaluated epoch
    best: dict = field(default_factory=dict)  # selection name -> {"epoch", metrics..., "test_ranks"}
    seconds_per_epoch: list = field(default_factory=list)
    seconds_per_eval: list = field(default_factory=list)
    stopped_early: bool = False


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    """What a result records as its device: the GPU's name, or the CPU and torch's thread count."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


@contextlib.contextmanager
def one_thread(threads: int | None = 1):
    """Run the block on one intra-op thread (``threads``; None leaves the setting alone), then
    restore the previous count.

    With several threads torch's CPU reductions split work differently from call to call, and
    training is not bit-reproducible (measured: three 2-thread runs of the same spec gave three
    HR@50 values). Parallelism belongs across runs, not inside one.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def sample_negatives(rng: np.random.Generator, targets: np.ndarray, n_items: int,
                     users: np.ndarray | None = None, history_keys: np.ndarray | None = None) -> np.ndarray:
    """(W, T) uniform negatives, resampled until none hits a forbidden item.

    Forbidden: the window's own targets, or (when ``history_keys`` is given: sorted
    ``user * n_items + item`` keys) anything in the user's history.
    """
    neg = rng.integers(0, n_items, size=targets.shape)
    for _ in range(1000):
        if history_keys is None:
            bad = (neg[:, :, None] == targets[:, None, :]).any(-1)
        else:
            keys = users[:, None] * n_items + neg
            pos = np.searchsorted(history_keys, keys).clip(max=len(history_keys) - 1)
            bad = history_keys[pos] == keys
        if not bad.any():
            return neg
        neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
    raise RuntimeError("could not draw negatives: a user's forbidden items cover almost every item")


def make_optimizer(model, cfg: TrainConfig, folded_l2: dict | None = None) -> torch.optim.Optimizer:
    """The optimiser; parameters in ``folded_l2`` ({param: lambda}, from ``model.whole_tensor_l2()``) get
    ``weight_decay = cfg.weight_decay + 2 * lambda`` (the gradient of lambda * ||p||^2)."""
    params = [p for p in model.parameters() if p.requires_grad]
    folded_l2 = folded_l2 or {}
    groups = [{"params": [p for p in params if p not in folded_l2], "weight_decay": cfg.weight_decay}]
    for p, lam in folded_l2.items():
        groups.append({"params": [p], "weight_decay": cfg.weight_decay + 2.0 * lam})
    groups = [g for g in groups if g["params"]]
    # The fused kernels update each tensor in one pass instead of 4-6 (measured on 2 CPU cores:
    # Adagrad 4x, Adam 5-7x faster per step on ML-1M-sized tables, where the step is a large part
    # of an epoch). Same update rule; the values differ from the for-loop kernels at float rounding.
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    if cfg.optimizer == "adagrad":
        # torch has a fused Adagrad kernel for the CPU only (a CUDA parameter raises)
        fused_adagrad = fused and all(p.device.type == "cpu" for p in params)
        return torch.optim.Adagrad(groups, lr=cfg.lr, initial_accumulator_value=cfg.initial_accumulator,
                                   fused=fused_adagrad or None)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, fused=fused or None)
    return torch.optim.SGD(groups, lr=cfg.lr)


def _eval_stage(model, split, stage, cfg, device, hist):
    ev = evaluate(model, split, stage, batch_size=cfg.eval_batch_size, device=device, histories=hist)
    return ev, ev.metrics()


def fit(model, split: Split, cfg: TrainConfig, seed: int, protocol: str = "valid",
        device=None, progress: bool = True, description: str = "", threads: int | None = 1) -> FitResult:
    """Train ``model`` on ``split`` and evaluate it every ``cfg.eval_every`` epochs, on one
    intra-op thread (:func:`one_thread`). ``threads=None`` keeps the caller's thread count: only
    for the speed benchmark, which measures thread scaling and keeps no result."""
    with one_thread(threads):
        return _fit(model, split, cfg, seed, protocol, device, progress, description)


def _fit(model, split, cfg, seed, protocol, device, progress, description) -> FitResult:
    cfg = cfg.validate()
    _check_protocol(split, protocol)
    device = torch.device(device) if device is not None else default_device()
    rng = np.random.default_rng(seed)
    model.prepare(split)
    model.to(device)
    trainable = any(p.requires_grad for p in model.parameters())
    data = _training_windows(model, split, cfg, device)
    loss_fn, optimizer = _objective(model, cfg, trainable)
    hists = {stage: HistoryIndex(split.history(stage)) for stage in ("valid", "test")}
    select_stage = "valid" if protocol == "valid" else "test"
    result = FitResult()
    best_value, since_best = -math.inf, 0
    bar = _progress_bar(cfg.epochs, progress, description)
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        mean_loss = _train_epoch(model, data, loss_fn, optimizer, rng, cfg, trainable, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        result.seconds_per_epoch.append(time.perf_counter() - t0)
        _check_finite(mean_loss, epoch, cfg, description)
        if trainable and epoch % cfg.eval_every and epoch != cfg.epochs:
            bar.update(1)
            continue
        t1 = time.perf_counter()
        record, evals = _evaluate_epoch(model, split, cfg, device, hists, protocol, epoch, mean_loss)
        result.seconds_per_eval.append(time.perf_counter() - t1)
        result.history.append(record)
        _update_best(result.best, "valid_selected" if protocol == "valid" else None, record, evals, "valid")
        _update_best(result.best, "test_selected", record, evals, "test")
        value = record[f"{select_stage}_{SELECT_METRIC}"]
        if value > best_value:
            best_value, since_best = value, 0
        else:
            since_best += 1
        bar.set_postfix(loss=f"{mean_loss:.3g}", **{f"{select_stage}_hr50": f"{value:.4f}"})
        bar.update(1)
        if not trainable or (cfg.patience and since_best >= cfg.patience):
            result.stopped_early = True
            break
    bar.close()
    return result


def _check_protocol(split: Split, protocol: str) -> None:
    check_choice("protocol", protocol, PROTOCOLS)
    if protocol == "valid" and len(split.eval_users("valid")) == 0:
        raise ValueError("protocol 'valid' needs a split with validation items (hold_out_valid=True)")


@dataclass
class _TrainingWindows:
    """A split's training windows (numpy, for the negatives; tensors on the device, for the
    batches), what the negatives avoid, and the number of batches an epoch takes."""
    windows: Windows
    users: torch.Tensor  # (n,)
    inputs: torch.Tensor  # (n, L)
    targets: torch.Tensor  # (n, T)
    n_items: int
    history_keys: np.ndarray | None  # user * n_items + item of every training row ("user_history")
    n_batches: int


def _training_windows(model, split: Split, cfg: TrainConfig, device) -> _TrainingWindows:
    mcfg = model.config
    windows = make_windows(split.train, mcfg.seq_len, mcfg.n_targets, split.pad)
    if len(windows) == 0:
        raise ValueError(f"{split.name}: no training windows for L={mcfg.seq_len}, T={mcfg.n_targets}")
    history_keys = None
    if cfg.negatives == "user_history":
        history_keys = np.unique(np.concatenate(
            [u * split.n_items + np.asarray(t, np.int64) for u, t in enumerate(split.train)]))
    n = len(windows)
    n_batches = n // cfg.batch_size if cfg.drop_last and n >= cfg.batch_size else math.ceil(n / cfg.batch_size)
    if cfg.max_batches:
        n_batches = min(n_batches, cfg.max_batches)
    return _TrainingWindows(windows, torch.as_tensor(windows.users, device=device),
                            torch.as_tensor(windows.inputs, device=device),
                            torch.as_tensor(windows.targets, device=device), split.n_items, history_keys, n_batches)


def _objective(model, cfg: TrainConfig, trainable: bool):
    """(the loss the optimiser minimises, the optimiser); no optimiser for a model with nothing to train.

    The trainer's choice: the model's whole-tensor L2 terms go to the optimiser as weight decay
    (identical gradients, cheaper inside the fused step) and the loss it minimises, and logs,
    leaves them out."""
    folded_l2 = model.whole_tensor_l2() if trainable else {}
    loss_fn = model.loss_without_whole_tensor_l2 if folded_l2 else model.loss
    if compile_enabled():
        loss_fn = torch.compile(loss_fn)
    optimizer = make_optimizer(model, cfg, folded_l2) if trainable else None
    return loss_fn, optimizer


def _train_epoch(model, data: _TrainingWindows, loss_fn, optimizer, rng: np.random.Generator, cfg: TrainConfig,
                 trainable: bool, device) -> float:
    """One pass over the shuffled windows with freshly drawn negatives; the mean batch loss."""
    model.train()
    n = len(data.windows)
    order = torch.as_tensor(rng.permutation(n), device=device)
    negatives = torch.as_tensor(sample_negatives(rng, data.windows.targets, data.n_items, data.windows.users,
                                                 data.history_keys), device=device)
    total = 0.0
    for b in range(data.n_batches if trainable else 0):
        idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
        batch = Batch(data.users[idx], data.inputs[idx], data.targets[idx], negatives[idx])
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(batch)
        loss.backward()
        optimizer.step()
        model.after_step()
        total += float(loss.detach())
    return total / max(data.n_batches, 1)


def _check_finite(mean_loss: float, epoch: int, cfg: TrainConfig, description: str) -> None:
    if not math.isfinite(mean_loss):
        raise TrainingDiverged(f"{description or 'run'}: the training diverged (loss became {mean_loss} at epoch "
                               f"{epoch}) with train_config.lr={cfg.lr} ({cfg.optimizer}); a smaller lr may train")


def _evaluate_epoch(model, split: Split, cfg: TrainConfig, device, hists: dict, protocol: str, epoch: int,
                    mean_loss: float) -> tuple[dict, dict]:
    """The epoch's history record (loss, every metric of each evaluated stage) and the evaluations."""
    record = {"epoch": epoch, "loss": mean_loss}
    evals = {}
    for stage in (("valid", "test") if protocol == "valid" else ("test",)):
        evals[stage], metrics = _eval_stage(model, split, stage, cfg, device, hists[stage])
        record.update({f"{stage}_{k}": v for k, v in metrics.items()})
    return record, evals


def _update_best(best: dict, name, record: dict, evals: dict, stage: str) -> None:
    """Keep the epoch with the highest ``stage`` HR@50 (MRR breaks ties) under ``best[name]``."""
    if name is None:
        return
    key = (record[f"{stage}_{SELECT_METRIC}"], record[f"{stage}_mrr"])
    current = best.get(name)
    if current is None or key > current["_key"]:
        best[name] = {"_key": key, **record, "test_ranks": evals["test"].ranks.tolist(),
                      "test_users": evals["test"].users.tolist()}


def _progress_bar(total: int, enabled: bool, description: str):
    return tqdm(total=total, desc=description or "train", unit="epoch", disable=not enabled, leave=False)
