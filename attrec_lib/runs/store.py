"""The run cache: one spec -> one JSON file under ``results/`` (its key is the file name).

The result is written atomically (a temporary file, then a rename), so a killed sweep loses only
the run in progress and never reads a partial file. Loading checks the file's form (a JSON object
with every field), format, results version, recorded key and spec, its packed per-user arrays,
and, where the file has one, the sha256 digest of its content stored in it (field
:data:`DIGEST_FIELD`: an edited digit fails it). A file that does not
check out is never served: :func:`load_result` moves it aside into ``results/.aside/`` with a
warning naming it and the reason, and the run is recomputed; every command (run, grid, grid
--list, plan, paper, compact) goes through it, so nothing needs deleting by hand. The digest is not
part of the run key: keys and numbers of existing runs are unchanged, and files written before it
(no digest) load as before; ``compact`` adds the digest to them (same numbers). The per-user arrays are stored packed (:func:`pack_ints`); ``python -m attrec_lib
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
import binascii
import subprocess
import tempfile
import time
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


# The sha256 of a file's content (every other field, canonical JSON), stored in the file.
DIGEST_FIELD = "content_sha256"
ASIDE_DIR = ".aside"  # under the results folder: files that did not check out, kept for reading


class ResultFileError(ValueError):
    """A file under results/ that cannot be served as the result of the spec it was looked up for."""


class StaleResultError(ResultFileError):
    """A result file of another results version or format: never served, but not damaged."""


def content_digest(file_form: dict) -> str:
    """sha256 of a result file's content without its digest field: canonical JSON (sorted keys,
    no spaces) of what the file holds, so the same content read back gives the same digest."""
    body = {k: v for k, v in file_form.items() if k != DIGEST_FIELD}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def move_aside(path: Path, reason: str) -> Path:
    """Move a result file that does not check out into ``results/.aside/`` (never served from
    there, kept for reading) and warn, naming both and the reason. Returns the new path."""
    path = Path(path)
    # The reason as read_result_file words it for a reader, without what this does instead
    # ("delete it to recompute") and without naming the file twice.
    reason = reason.replace(f"result file {path}: ", "").replace("; delete it to recompute", "")
    folder = path.parent / ASIDE_DIR
    folder.mkdir(exist_ok=True)
    target = folder / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    os.replace(path, target)
    warnings.warn(f"result file {path} does not check out ({reason}); moved aside to {target}, and the run "
                  f"will be recomputed", stacklevel=3)
    return target


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
    if DIGEST_FIELD in result:
        stored = result.pop(DIGEST_FIELD)
        if stored != content_digest(result):
            raise ResultFileError(f"result file {path}: its content does not match the digest stored in it "
                                  f"(edited or damaged after it was written)")
    if "format" in result and result["format"] not in READABLE_FORMATS:
        raise StaleResultError(f"result file {path}: format {result['format']!r}, this code reads "
                              f"{' and '.join(map(str, READABLE_FORMATS))}; delete it to recompute")
    if "results_version" in result and result["results_version"] != RESULTS_VERSION:
        raise StaleResultError(f"result file {path}: results_version {result['results_version']!r}, current is "
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
    except (ValueError, TypeError, AttributeError, KeyError, zlib.error, binascii.Error) as err:
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
    """Rewrite every readable result file under ``directory`` that is format 2 or has no digest
    as format 3 with its digest (same numbers), each file replaced atomically and only after its
    packed form was checked to read back to the same result. A file of another results version
    is left as is (``skipped``); a damaged one (not JSON, arrays that do not unpack, a failing
    digest, a name that is not its key) is moved aside with a warning (``moved_aside``). Returns
    counts and the folder's size in bytes before and after."""
    directory = Path(directory or paths.results_dir())
    files = sorted(directory.glob("*.json"))
    before = sum(p.stat().st_size for p in files)
    rewritten = skipped = moved = 0
    for path in files:
        try:
            result = read_result_file(path)
            if path.stem != result["spec_key"]:
                raise ResultFileError(f"named {path.stem} but records key {result['spec_key']}")
        except StaleResultError:
            skipped += 1  # another version: listed by `stale_results`, never served
            continue
        except (ResultFileError, json.JSONDecodeError, UnicodeDecodeError) as err:
            move_aside(path, str(err))
            moved += 1
            continue
        if result.get("format") == RESULT_FORMAT and DIGEST_FIELD in json.loads(path.read_text()):
            continue
        packed = _packed(result)
        if _unpacked(json.loads(json.dumps(packed))) != dict(result, format=RESULT_FORMAT):
            raise RuntimeError(f"result file {path}: packing does not read back to the same result; left as is")
        write_result(path, packed, pack=False)
        rewritten += 1
    after = sum(p.stat().st_size for p in sorted(directory.glob("*.json")))
    return {"files": len(files), "rewritten": rewritten, "skipped": skipped, "moved_aside": moved,
            "bytes_before": before, "bytes_after": after}


def load_result(spec: RunSpec) -> dict | None:
    """The cached result of ``spec``, or None (also when it is older than a FRESH build). A file
    that is there but does not check out (not JSON, not a result, another version, another run's,
    arrays that do not unpack, a failing digest) is moved aside with a warning (:func:`move_aside`)
    and None returned, so the run is recomputed."""
    path = result_path(spec)
    fresh_since = paths.fresh_since()  # checked even when nothing is cached: a bad value fails at once
    if not path.exists():
        return None
    try:
        result = read_result_file(path, spec.key)
        try:
            recorded = RunSpec.from_dict(result["spec"]).key
        except (TypeError, ValueError, KeyError) as err:
            raise ResultFileError(f"result file {path}: its recorded spec does not read ({err})") from err
        if recorded != spec.key:
            raise ResultFileError(f"result file {path}: its recorded spec hashes to {recorded}, not {spec.key}")
    except (ResultFileError, json.JSONDecodeError, UnicodeDecodeError) as err:
        try:
            move_aside(path, str(err).replace(f"result file {path}: ", ""))
        except FileNotFoundError:  # another process moved it first
            pass
        return None
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
    """Write a result (in-memory form; ``pack=False``: already in file form) to ``path``
    atomically, with the digest of its content (:func:`content_digest`)."""
    file_form = json.loads(json.dumps(_packed(payload) if pack else payload))  # what a reader will see
    file_form.pop(DIGEST_FIELD, None)
    file_form[DIGEST_FIELD] = content_digest(file_form)
    text = json.dumps(file_form, indent=1, sort_keys=True).encode()
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


