"""Parsers on small files in every raw format (including the formats not available offline)."""
import gzip

import numpy as np
import pytest

from attrec_lib.data import parsers
from attrec_lib.data.parsers import MalformedFileError


def write(path, text, gz=False):
    if gz:
        with gzip.open(path, "wt", encoding="latin-1", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="latin-1", newline="")
    return path


def rows(df):
    return [tuple(r) for r in df[["user", "item", "timestamp"]].itertuples(index=False)]


def test_ml100k_tab_raw_order(tmp_path):
    f = write(tmp_path / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t10\t5\t881250949\n")
    df = parsers.parse_ml100k(f)
    assert rows(df) == [(196, 242, 881250949), (186, 302, 891717742), (196, 10, 881250949)]
    assert df["timestamp"].dtype == np.int64


@pytest.mark.parametrize("gz", [False, True])
def test_ml1m_double_colon(tmp_path, gz):
    f = write(tmp_path / ("ratings.dat.gz" if gz else "ratings.dat"),
              "1::1193::5::978300760\n1::661::3::978302109\n", gz=gz)
    assert rows(parsers.parse_ml1m(f)) == [(1, 1193, 978300760), (1, 661, 978302109)]


def test_movietweetings_keeps_zero_padded_ids(tmp_path):
    f = write(tmp_path / "ratings.dat", "1::1074638::7::1365029107\n2::0104257::8::1364690142\n")
    assert rows(parsers.parse_movietweetings(f)) == [(1, "1074638", 1365029107), (2, "0104257", 1364690142)]


def test_hetrec_header_and_milliseconds(tmp_path):
    f = write(tmp_path / "user_ratedmovies-timestamps.dat",
              "userID\tmovieID\trating\ttimestamp\n75\t3\t1.0\t1162160236000\n75\t32\t4.5\t1162160624000\n")
    assert rows(parsers.parse_hetrec_ratings(f)) == [(75, 3, 1162160236), (75, 32, 1162160624)]


def test_amazon_csv_string_ids(tmp_path):
    f = write(tmp_path / "ratings_X.csv", "A2EFCYXHNK06IS,0000031887,5.0,1394928000\nAZZ9,B00ABC,1.0,1299110400\n")
    assert rows(parsers.parse_amazon_csv(f)) == [("A2EFCYXHNK06IS", "0000031887", 1394928000),
                                                 ("AZZ9", "B00ABC", 1299110400)]


def test_lastfm_dates_become_utc_midnight(tmp_path):
    f = write(tmp_path / "user_taggedartists.dat",
              "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t52\t13\t1\t4\t2009\n2\t52\t15\t1\t4\t2009\n")
    # 2009-04-01 00:00 UTC; the official -timestamps file has local midnight of the same day.
    assert rows(parsers.parse_lastfm_tags(f)) == [(2, 52, 1238544000), (2, 52, 1238544000)]


@pytest.mark.parametrize("parser,text,line", [
    ("ml100k", "1\t2\t3\t4\n1\t2\t3\n", 2),  # truncated line: a field missing
    ("ml100k", "1\t2\t3\t4\n1\t2\tx\t4\n", 2),  # rating not a number
    ("ml1m", "1::2::3::4\n1::2::3::4\n1::2::3::\n", 3),  # cut off after the last separator
    ("ml1m", "1::2::3::4\n\n1::2::3::4\n", 2),  # blank line in the middle
    ("movietweetings", "1::0104257::8::13646x0142\n", 1),  # bad timestamp
    ("amazon_csv", "A,B,5.0,1\nA,B,5.0,1,extra\n", 2),  # too many fields
    ("hetrec_ratings", "userID\tmovieID\trating\ttimestamp\n75\t3\t1.0\n", 2),
    ("hetrec_ratings", "user\tmovie\trating\ttime\n75\t3\t1.0\t1\n", 1),  # wrong header
    ("lastfm_tags", "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t52\t13\t31\t2\t2009\n", 2),  # 31 Feb
])
def test_malformed_line_names_file_and_line(tmp_path, parser, text, line):
    f = write(tmp_path / "bad.dat", text)
    with pytest.raises(MalformedFileError) as err:
        parsers.parse(parser, f)
    assert err.value.line_no == line
    assert f"bad.dat: line {line}:" in str(err.value)


def test_truncated_gzip_is_one_clear_error(tmp_path):
    full = write(tmp_path / "full.dat.gz", "1::1193::5::978300760\n" * 2000, gz=True)
    cut = tmp_path / "cut.dat.gz"
    cut.write_bytes(full.read_bytes()[:-20])
    with pytest.raises(MalformedFileError, match="cut.dat.gz"):
        parsers.parse_ml1m(cut)


# --- a file cut inside its last field (no checksum known for some formats) -------------------

@pytest.mark.parametrize("parser,text", [
    ("ml100k", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t10\t5\t8812"),
    ("amazon_csv", "A2EFCYXHNK06IS,0000031887,5.0,1394928000\nAZZ9,B00ABC,1.0,1299110400\nAZZ9,B00ABD,1.0,8799"),
    ("movietweetings", "1::1074638::7::1365029107\n2::0104257::8::1364690142\n2::0104258::8::136"),
    ("hetrec_ratings", "userID\tmovieID\trating\ttimestamp\n75\t3\t1.0\t1162160236000\n75\t32\t4.5\t11621606"),
])
def test_last_line_cut_inside_its_timestamp_is_an_error(tmp_path, parser, text):
    f = write(tmp_path / "cut.dat", text)
    last_line = text.count("\n") + 1
    with pytest.raises(MalformedFileError, match="truncated") as err:
        parsers.parse(parser, f)
    assert err.value.line_no == last_line
    assert f"cut.dat: line {last_line}:" in str(err.value)


def test_complete_last_line_without_newline_is_accepted(tmp_path):
    f = write(tmp_path / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742")
    assert rows(parsers.parse_ml100k(f)) == [(196, 242, 881250949), (186, 302, 891717742)]


@pytest.mark.parametrize("text", ["", "\n", "  \n\n"])
def test_empty_raw_file_is_named_as_empty(tmp_path, text):
    f = write(tmp_path / "u.data", text)
    with pytest.raises(MalformedFileError, match=r"u\.data: line 1: the file is empty"):
        parsers.parse_ml100k(f)


def test_corrupt_gzip_names_the_file(tmp_path):
    full = write(tmp_path / "full.dat.gz", "".join(f"{u}::1193::5::978300760\n" for u in range(3000)), gz=True)
    data = bytearray(full.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])  # flip bits mid-stream
    bad = tmp_path / "flipped.dat.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(MalformedFileError, match="flipped.dat.gz"):
        parsers.parse_ml1m(bad)
