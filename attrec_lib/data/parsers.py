"""Parsers for every raw format the paper's data sets come in.

Each parser takes a path and returns ``DataFrame(user, item, timestamp)`` in raw file order:
``user`` and ``item`` are the raw ids (int64 where the format has integer ids, str where it
has string ids: Amazon reviewer ids and ASINs, MovieTweetings' zero-padded IMDb ids, which
must not lose their leading zeros), ``timestamp`` is int64 unix seconds. Ratings are read and
validated but not returned: the paper turns every rating into one implicit interaction.

Any malformed or truncated line raises :class:`MalformedFileError` naming the file and the
1-based line number, so a damaged download is found at once rather than silently shortening
a data set (MANIFEST warns that some public copies of ``u.data`` are damaged).
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pandas as pd


class MalformedFileError(ValueError):
    """A raw file has a line that does not fit its format."""

    def __init__(self, path, line_no: int, reason: str):
        self.path, self.line_no = Path(path), line_no
        super().__init__(f"{Path(path).name}: line {line_no}: {reason} (file: {path})")


def _read_lines(path: Path) -> tuple:
    """The file's lines, and whether its text ends with a newline (a file cut off mid-line does not)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        # latin-1 never fails to decode; the fields we read are ASCII in every format.
        with opener(path, "rt", encoding="latin-1", newline="") as fh:
            text = fh.read()
    except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip stream
        raise MalformedFileError(path, 0, f"cannot be read to the end ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise MalformedFileError(path, 1, "the file is empty")
    return text.splitlines(), text.endswith(("\n", "\r"))


def _check_last_line(path, values: list, first_line_no: int, complete: bool, what: str) -> None:
    """A file that does not end with a newline may have been cut inside its last field. When that
    last field is shorter than the same field on every other line (a timestamp cut to ``8799``
    would otherwise become a 1970 date), the file is truncated: an error naming the line."""
    if complete or len(values) < 2:
        return
    shortest = min(len(v) for v in values[:-1])
    if len(values[-1]) < shortest:
        raise MalformedFileError(path, first_line_no + len(values) - 1,
                                 f"{what} {values[-1]!r} on the last line is shorter than on every other line "
                                 f"(at least {shortest} characters) and the file does not end with a newline: "
                                 f"the file looks truncated")


def _split_fields(path, lines, sep: str, n_fields: int, first_line_no: int) -> list:
    """Split each line into exactly ``n_fields`` non-empty fields, else error with line number."""
    columns = [[] for _ in range(n_fields)]
    for offset, line in enumerate(lines):
        parts = line.split(sep)
        if len(parts) != n_fields or any(p.strip() == "" for p in parts):
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise MalformedFileError(path, first_line_no + offset,
                                     f"expected {n_fields} non-empty fields separated by {sep!r}, got {shown!r}")
        for col, part in zip(columns, parts):
            col.append(part.strip())
    return columns


def _to_int(path, values: list, first_line_no: int, what: str) -> np.ndarray:
    num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    bad = num.isna().to_numpy() | (num.to_numpy(dtype=float) % 1 != 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MalformedFileError(path, first_line_no + i, f"{what} {values[i]!r} is not an integer")
    return num.to_numpy(dtype=np.float64).astype(np.int64)


def _to_float(path, values: list, first_line_no: int, what: str) -> np.ndarray:
    num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    if np.isnan(num).any():
        i = int(np.flatnonzero(np.isnan(num))[0])
        raise MalformedFileError(path, first_line_no + i, f"{what} {values[i]!r} is not a number")
    return num


def _body(path, header: str | None):
    """Lines after the (checked) header, the 1-based number of the first of them, and whether the
    file ends with a newline."""
    lines, complete = _read_lines(Path(path))
    if header is None:
        return lines, 1, complete
    if not lines or lines[0].strip().split() != header.split():
        got = lines[0] if lines else "<empty file>"
        raise MalformedFileError(path, 1, f"expected header {header!r}, got {got!r}")
    if len(lines) == 1:
        raise MalformedFileError(path, 2, "no data after the header")
    return lines[1:], 2, complete


def _frame(user, item, timestamp) -> pd.DataFrame:
    return pd.DataFrame({"user": user, "item": item, "timestamp": np.asarray(timestamp, np.int64)})


def _user_item_rating_time(path, sep: str, header: str | None, item_as_str: bool,
                           user_as_str: bool = False, time_scale: int = 1) -> pd.DataFrame:
    lines, first, complete = _body(path, header)
    user, item, rating, ts = _split_fields(path, lines, sep, 4, first)
    _check_last_line(path, ts, first, complete, "timestamp")
    _to_float(path, rating, first, "rating")  # validated (a truncated line often fails here)
    timestamp = _to_int(path, ts, first, "timestamp") // time_scale
    user = np.array(user, dtype=object) if user_as_str else _to_int(path, user, first, "user id")
    item = np.array(item, dtype=object) if item_as_str else _to_int(path, item, first, "item id")
    return _frame(user, item, timestamp)


def parse_ml100k(path) -> pd.DataFrame:
    """MovieLens 100K ``u.data``: tab-separated ``user item rating timestamp``, no header."""
    return _user_item_rating_time(path, "\t", None, item_as_str=False)


def parse_ml1m(path) -> pd.DataFrame:
    """MovieLens 1M ``ratings.dat`` (optionally .gz): ``UserID::MovieID::Rating::Timestamp``."""
    return _user_item_rating_time(path, "::", None, item_as_str=False)


def parse_movietweetings(path) -> pd.DataFrame:
    """MovieTweetings ``ratings.dat``: ``user_id::movie_id::rating::rating_timestamp``.

    Movie ids are zero-padded 7-digit IMDb ids ("0104257"), kept as strings.
    """
    return _user_item_rating_time(path, "::", None, item_as_str=True)


def parse_hetrec_ratings(path) -> pd.DataFrame:
    """HetRec MovieLens ``user_ratedmovies-timestamps.dat``: tab-separated, header
    ``userID movieID rating timestamp``, timestamp in milliseconds (converted to seconds)."""
    return _user_item_rating_time(path, "\t", "userID movieID rating timestamp",
                                  item_as_str=False, time_scale=1000)


def parse_amazon_csv(path) -> pd.DataFrame:
    """Amazon 2014 ratings-only CSV, no header: ``user,item,rating,timestamp`` with string
    reviewer ids and ASINs (ASINs like "0000031887" must keep their leading zeros)."""
    return _user_item_rating_time(path, ",", None, item_as_str=True, user_as_str=True)


def parse_lastfm_tags(path) -> pd.DataFrame:
    """HetRec LastFM ``user_taggedartists.dat``: tab-separated, header
    ``userID artistID tagID day month year``; one row per tag assignment.

    The date becomes unix seconds at UTC midnight. The official ``-timestamps`` variant holds
    local midnight of the same date, so both files give the same order.
    """
    lines, first, complete = _body(path, "userID artistID tagID day month year")
    user, artist, tag, day, month, year = _split_fields(path, lines, "\t", 6, first)
    _check_last_line(path, year, first, complete, "year")
    _to_int(path, tag, first, "tag id")
    d, m, y = (_to_int(path, v, first, w) for v, w in ((day, "day"), (month, "month"), (year, "year")))
    dates = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d}), errors="coerce")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise MalformedFileError(path, first + i, f"invalid date {day[i]}/{month[i]}/{year[i]}")
    seconds = (dates - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return _frame(_to_int(path, user, first, "user id"), _to_int(path, artist, first, "artist id"),
                  seconds.to_numpy(dtype=np.int64))


PARSERS = {
    "ml100k": parse_ml100k,
    "ml1m": parse_ml1m,
    "movietweetings": parse_movietweetings,
    "hetrec_ratings": parse_hetrec_ratings,
    "amazon_csv": parse_amazon_csv,
    "lastfm_tags": parse_lastfm_tags,
}


def parse(parser: str, path) -> pd.DataFrame:
    """Run the parser named in a registry entry."""
    return PARSERS[parser](path)
