"""The run cache: one spec -> one JSON file under ``results/`` (its key is the file name).

The result is written atomically (a temporary file, then a rename), so a killed sweep loses only
the run in progress and never reads a partial file. Loading checks the file's format, results
version and recorded key: a file that does not match is one error naming it, never a silently
served number. The per-user arrays are stored packed (:func:`pack_ints`); ``python -m attrec_lib
compact`` rewrites older unpacked files.

``make paper FRESH=1`` sets ``ATTREC_FRESH_SINCE`` (a unix time): cached results finished
before it are recomputed (runs shared by several notebooks are computed once per build).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import subprocess
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np

from .. import __version__
from ..settings import paths
from ..settings.atomic import replace_atomically
from .runspec import RESULTS_VERSION, RunSpec

# Layout of a result JSON. 2: results_version, data fingerprint, threads; 3: the per-user arrays
# stored packed (:func:`pack_ints`). Format 2 files are still read (``python -m attrec_lib compact``
# rewrites them as 3); the numbers are the same in both.
RESULT_FORMAT = 3
READABLE_FORMATS = (2, 3)
# Prefix of a packed integer array: little-endian int32, zlib-compressed, base64.
PACKED_PREFIX = "i4-zlib-b64:"
# Fields every result file must have (checked on load).
RESULT_FIELDS = ("format", "results_version", "spec", "spec_key", "data_fingerprint", "selections",
                 "per_user", "history", "epochs_run", "seconds_per_epoch", "device", "threads",
                 "code_version", "finished_at")


class ResultFileError(ValueError):
    """A file under results/ that cannot be served as the result of the spec it was looked up for."""


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
        write_result(path, packed, pack=False)
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


def write_result(path, payload: dict, pack: bool = True) -> None:
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


