"""The one way the project replaces a file: a reader sees the old file or the whole new one.

Result JSONs, cached model weights, processed data sets and extracted raw files all go through
:func:`replace_atomically`: the content is written to a temporary file in the target's folder
(same file system, so the rename is atomic on POSIX), flushed to disk, then renamed over the
target. An interrupted write leaves the target untouched and no temporary file behind. A write
that fails (a full disk, a quota) raises an ``OSError`` naming the target, whatever the writer
said.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_atomically(path, write) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise type(err)(err.errno, f"{err.strerror or err}: cannot write {path}") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
