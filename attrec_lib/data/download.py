"""Finding, fetching and checksum-verifying the raw files.

Where a raw file is looked for, in order:

1. ``data/raw/<dataset>/<filename>`` (a previous download, or a file placed there by hand);
2. ``$ATTREC_DATA_MIRROR/<mirror_path>`` (read in place, not copied: raw data is immutable);
3. the network, with pooch (progress bar from tqdm), into ``data/raw/<dataset>/``; a zip
   archive is downloaded next to it and the one member we need is extracted.

Every file is checked against the registry's sha256 wherever it came from: a mismatch is
refused (:class:`ChecksumError` with expected and actual digest and the path); an unknown
checksum is accepted with a visible warning naming the file.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import warnings
import zipfile
from pathlib import Path

from ..settings import paths
from ..settings.atomic import replace_atomically
from .registry import DatasetSpec, RawFile, get_spec


class ChecksumError(ValueError):
    """A raw file's sha256 differs from the registry's."""


class RawFileMissingError(FileNotFoundError):
    """A raw file is neither on disk, nor in the mirror, nor downloadable."""


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, expected: str | None) -> str:
    """Return the file's sha256; refuse a mismatch, warn when nothing is known to compare."""
    actual = sha256_of(path)
    if expected is None:
        # The file name only (not the full path): this warning shows in notebook outputs.
        warnings.warn(f"no known sha256 for raw file {Path(path).name!r}; accepted unverified "
                      f"(sha256 {actual})", stacklevel=2)
    elif actual != expected:
        raise ChecksumError(f"checksum mismatch for {path}: expected sha256 {expected}, "
                            f"actual sha256 {actual}. Delete the file and fetch it again, or fix "
                            f"ATTREC_DATA_MIRROR.")
    return actual


def raw_dir(spec: DatasetSpec) -> Path:
    return paths.RAW_DIR / spec.name


def locate(raw: RawFile, spec: DatasetSpec) -> Path | None:
    """Where the raw file already is (data/raw or the mirror), or None. Never downloads."""
    mirror = paths.data_mirror()  # a mirror variable naming no folder is an error even when not needed
    local = raw_dir(spec) / raw.filename
    if local.is_file():
        return local
    if mirror is not None and (mirror / raw.mirror_path).is_file():
        return mirror / raw.mirror_path
    return None


def is_available(name: str) -> bool:
    """True when every raw file of the data set is on disk or in the mirror (no download).

    A generated data set (the synthetic one) needs no raw file, so it is always available.
    """
    spec = get_spec(name)
    return all(locate(raw, spec) is not None for raw in spec.files)


def how_to_get(spec: DatasetSpec, raw: RawFile | None = None) -> str:
    raw = raw or spec.files[0]
    what = f"{raw.archive_member!r} from {raw.url}" if raw.archive_member else raw.url
    return (f"download {what} into data/raw/{spec.name}/{raw.filename}, or set ATTREC_DATA_MIRROR "
            f"to a local copy holding {raw.mirror_path}")


def _missing(spec: DatasetSpec, raw: RawFile, cause: str) -> RawFileMissingError:
    return RawFileMissingError(
        f"raw file {raw.filename!r} of data set {spec.name!r} not found ({cause}). "
        f"Canonical URL: {', '.join(spec.canonical_urls)}. To get it: {how_to_get(spec, raw)}.")


def _download(spec: DatasetSpec, raw: RawFile) -> Path:
    import pooch  # imported here: only needed when something is actually fetched

    target_dir = raw_dir(spec)
    target_dir.mkdir(parents=True, exist_ok=True)
    fetched_name = Path(raw.url.split("?")[0]).name
    known = None if raw.archive_member else raw.sha256  # the archive's own digest is unknown
    fetched = Path(pooch.retrieve(raw.url, known_hash=known, fname=fetched_name,
                                  path=target_dir, progressbar=True))
    if raw.archive_member is None:
        if fetched.name != raw.filename:
            os.replace(fetched, target_dir / raw.filename)
        return target_dir / raw.filename
    with zipfile.ZipFile(fetched) as archive, archive.open(raw.archive_member) as member:
        # a half-extracted file is never seen under the final name
        return replace_atomically(target_dir / raw.filename, lambda out: shutil.copyfileobj(member, out))


def fetch(name: str, download: bool = True) -> list:
    """Paths of the data set's raw files, verified, downloading what is missing if allowed.

    Returns ``[(RawFile, Path, sha256), ...]`` in registry order.
    """
    spec = get_spec(name)
    found = []
    for raw in spec.files:
        path = locate(raw, spec)
        if path is None:
            if not download:
                raise _missing(spec, raw, "not in data/raw and not in ATTREC_DATA_MIRROR")
            try:
                path = _download(spec, raw)
            except Exception as exc:  # no network, HTTP error, bad archive: one clear message
                raise _missing(spec, raw, f"download failed: {type(exc).__name__}: {exc}") from exc
        found.append((raw, path, verify(path, raw.sha256)))
    return found
