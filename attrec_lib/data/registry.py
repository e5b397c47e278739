"""The registry of the paper's twelve data sets and of the two labelled stand-ins.

One :class:`DatasetSpec` per data set says where its raw files come from (canonical URL, the
file names, their sha256 where known), which parser reads them, and how the paper's
preprocessing (Section "Datasets": explicit -> implicit, users with >= 10 actions, cold-start
items removed for Amazon, LastFM and MovieTweetings; MovieLens unfiltered) is applied.

Where the paper is silent the spec records our choice and why (``notes``):

* Duplicates: kept (every rating is one interaction) except LastFM, whose raw file has one row
  per *tag* assignment, so one (user, artist, date) listening event appears once per tag. We
  keep one row per (user, artist, date); of the variants we tried this is closest to the
  paper's counts (see docs/DATASETS.md and notebooks/00-datasets.ipynb).
* Order of the filtering steps: deduplicate, then drop users with fewer than
  ``min_user_actions`` rows, then drop cold-start items, in one pass (no iteration to a fixed
  point; re-filtering users after the item step would be a second, undocumented filter).
* Cold-start items: ``cold_start_items`` is a rule name. "none" keeps every item still present
  after the user filter, i.e. an item is "cold" only when every one of its interactions came
  from a discarded user. Every stricter reading we tried (items with fewer than 2, 3 or 5
  interactions) moves the LastFM item count further from the paper's 12,113 (our 12,102 is
  already below it), so "none" is the reading closest to the paper. The alternatives stay
  available through :func:`attrec_lib.data.preprocess.filter_interactions` for the notebook.

Stand-ins (``stand_in_for`` set) are *not* the paper's data and are never reported under the
paper's name: ``ml-1m-first2999`` (the exact prefix of the official ML-1M ``ratings.dat``,
users 1-2999) and ``movietweetings-snapshot-100k`` (the official first-100K-tweets snapshot of
2013, where the paper used the Dec 2016 state).
"""
from __future__ import annotations

from dataclasses import dataclass, field

GROUPLENS_LICENSE = ("GroupLens terms (README in the archive): research use only, no commercial use "
                     "without permission, no redistribution without permission, cite Harper & "
                     "Konstan 2015.")
HETREC_LICENSE = ("HetRec 2011 terms (readme in the archive): non-commercial use only, cite "
                  "Cantador, Brusilovsky and Kuflik, HetRec 2011; MovieLens-derived data also "
                  "under the GroupLens terms.")
AMAZON_LICENSE = ("McAuley et al. Amazon product data (2014): free for research use, cite He & "
                  "McAuley WWW 2016 and McAuley et al. SIGIR 2015; no explicit redistribution "
                  "licence, so it is not mirrored.")
MOVIETWEETINGS_LICENSE = "MIT License (LICENSE in github sidooms/MovieTweetings)."


@dataclass(frozen=True)
class RawFile:
    """One raw file a data set needs.

    ``filename`` is the name under ``data/raw/<dataset>/``; ``mirror_path`` its path inside the
    mirror (``ATTREC_DATA_MIRROR``). ``url`` is where it is fetched from; when
    ``archive_member`` is set the URL is a zip archive and that member is extracted.
    ``sha256`` is of the file itself (not of the archive); None means unknown: accepted with a
    warning.
    """

    filename: str
    mirror_path: str
    url: str
    sha256: str | None = None
    archive_member: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # our name, used by load_dataset()
    paper_name: str  # the row label in the paper's Table 1 ("" for stand-ins)
    files: tuple  # tuple[RawFile, ...]; the first one holds the interactions
    parser: str  # a key of attrec_lib.data.parsers.PARSERS
    canonical_urls: tuple  # human-facing download pages / files
    license: str
    preprocessing: str  # the paper's preprocessing, in words
    min_user_actions: int = 0  # keep users with at least this many rows (0: no filter)
    cold_start_items: str = "none"  # see module docstring
    dedup_keys: tuple = ()  # columns that define a duplicate row; () keeps every row
    stand_in_for: str | None = None  # the paper data set this one approximates, if a stand-in
    notes: str = ""  # our choices where the paper is silent, and why
    parser_options: dict = field(default_factory=dict, hash=False)

    @property
    def is_stand_in(self) -> bool:
        return self.stand_in_for is not None

    @property
    def mirror_folder(self) -> str:
        return self.files[0].mirror_path.split("/")[0]


_ML_PREPROCESS = "explicit ratings -> implicit (every rating kept); no filtering (paper: MovieLens unfiltered)"
_FILTERED = ("explicit ratings -> implicit (every rating kept); keep users with >= 10 actions; "
             "remove cold-start items")
_AMAZON_NOTE = ("Ratings-only CSV of the 2014 Amazon data. Timestamps are at day granularity, so "
                "ties are frequent and broken by raw file order. Every (user, item) row kept.")


def _amazon(name: str, paper_name: str, category: str) -> DatasetSpec:
    fname = f"ratings_{category}.csv"
    url = f"http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/{fname}"
    return DatasetSpec(
        name=name, paper_name=paper_name,
        files=(RawFile(fname, f"{name}/{fname}", url),),
        parser="amazon_csv",
        canonical_urls=(url, "http://jmcauley.ucsd.edu/data/amazon/links.html"),
        license=AMAZON_LICENSE, preprocessing=_FILTERED,
        min_user_actions=10, cold_start_items="none", notes=_AMAZON_NOTE)


_SPECS = [
    DatasetSpec(
        name="ml-100k", paper_name="ML-100K",
        files=(RawFile("u.data", "ml-100k/u.data",
                       "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
                       "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
                       archive_member="ml-100k/u.data"),),
        parser="ml100k", canonical_urls=("https://files.grouplens.org/datasets/movielens/ml-100k.zip",),
        license=GROUPLENS_LICENSE, preprocessing=_ML_PREPROCESS,
        notes=("Raw rows are not sorted; 415 of 943 users have several rows at their latest "
               "timestamp, so the test item depends on the tie rule (see load_dataset).")),
    DatasetSpec(
        name="ml-hetrec", paper_name="ML-HetRec",
        files=(RawFile("user_ratedmovies-timestamps.dat", "ml-hetrec/user_ratedmovies-timestamps.dat",
                       "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-movielens-2k-v2.zip",
                       archive_member="user_ratedmovies-timestamps.dat"),),
        parser="hetrec_ratings",
        canonical_urls=("https://files.grouplens.org/datasets/hetrec2011/hetrec2011-movielens-2k-v2.zip",),
        license=HETREC_LICENSE, preprocessing=_ML_PREPROCESS,
        notes=("Timestamps are milliseconds; converted to whole seconds (the values come from "
               "MovieLens-10M second timestamps). The paper's 2113/10109/855,598 are the raw counts.")),
    DatasetSpec(
        name="ml-1m", paper_name="ML-1M",
        files=(RawFile("ratings.dat", "ml-1m/ratings.dat",
                       "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
                       archive_member="ml-1m/ratings.dat"),),
        parser="ml1m", canonical_urls=("https://files.grouplens.org/datasets/movielens/ml-1m.zip",),
        license=GROUPLENS_LICENSE, preprocessing=_ML_PREPROCESS,
        notes="Sorted by user only, not by time; order within a user comes from the timestamps."),
    _amazon("amazon-apps-for-android", "Android App", "Apps_for_Android"),
    _amazon("amazon-health-personal-care", "Health / Care", "Health_and_Personal_Care"),
    _amazon("amazon-video-games", "Video Game", "Video_Games"),
    _amazon("amazon-tools-home-improvement", "Tools / Home", "Tools_and_Home_Improvement"),
    _amazon("amazon-digital-music", "Digital Music", "Digital_Music"),
    _amazon("amazon-patio-lawn-garden", "Garden", "Patio_Lawn_and_Garden"),
    _amazon("amazon-instant-video", "Instant Video", "Amazon_Instant_Video"),
    DatasetSpec(
        name="lastfm", paper_name="LastFM",
        files=(RawFile("user_taggedartists.dat", "lastfm/user_taggedartists.dat",
                       "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
                       "c4a9ffae9ab47a9f9b2f0678ab1f7e5c1db4ca818837d8cddd1f5699c5bbf048",
                       archive_member="user_taggedartists.dat"),),
        parser="lastfm_tags",
        canonical_urls=("https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",),
        license=HETREC_LICENSE, preprocessing=_FILTERED,
        min_user_actions=10, cold_start_items="none", dedup_keys=("user", "item", "timestamp"),
        notes=("One raw row per tag assignment; we keep one row per (user, artist, date), then "
               "users with >= 10 rows: 936/12,102/81,285 vs the paper's 951/12,113/83,382, the "
               "closest variant found. Dates become UTC midnight unix seconds; about monthly "
               "granularity, ties broken by raw file order. 5 rows with bogus years are kept.")),
    DatasetSpec(
        name="movietweetings", paper_name="MovieTweetings",
        files=(RawFile("ratings.dat", "movietweetings/ratings.dat",
                       "https://raw.githubusercontent.com/sidooms/MovieTweetings/master/latest/ratings.dat"),),
        parser="movietweetings",
        canonical_urls=("https://github.com/sidooms/MovieTweetings",),
        license=MOVIETWEETINGS_LICENSE, preprocessing=_FILTERED,
        min_user_actions=10, cold_start_items="none",
        notes=("The paper used the state downloaded in Dec 2016: take latest/ratings.dat at the "
               "last commit before 2017-01-01 (git log --until=2017-01-01 -- latest/ratings.dat) "
               "and place it as data/raw/movietweetings/ratings.dat. The URL above is today's "
               "state, which has grown since. Movie ids are zero-padded strings.")),
    # --- stand-ins: not the paper's data, never reported under the paper's name -------------
    DatasetSpec(
        name="ml-1m-first2999", paper_name="",
        files=(RawFile("ratings.partial_users1-2999.dat.gz", "ml-1m/ratings.partial_users1-2999.dat.gz",
                       "https://raw.githubusercontent.com/dev-sumanta/dsmlai/"
                       "ccdc1fec54b4ab00fe37154ce2a38200c932bf6a/ratings.dat.gz",
                       "2fedcf5405373a49df4041e3d3fe1e8db9eacf2c77c209ae1f686ea06b7a16d9"),),
        parser="ml1m", canonical_urls=("https://files.grouplens.org/datasets/movielens/ml-1m.zip",),
        license=GROUPLENS_LICENSE, preprocessing=_ML_PREPROCESS, stand_in_for="ml-1m",
        notes=("STAND-IN: the first 487,650 rows of the official ML-1M ratings.dat (users "
               "1-2999, each complete), checked row for row against the full user-movie list. "
               "About half of ML-1M; not the paper's data.")),
    DatasetSpec(
        name="movietweetings-snapshot-100k", paper_name="",
        files=(RawFile("ratings.dat", "movietweetings/snapshot-100K/ratings.dat",
                       "https://raw.githubusercontent.com/sidooms/MovieTweetings/master/snapshots/100K/ratings.dat",
                       "c0dd868c2632d10002ebc928ddc5345f33adeaa59eca52c2941c26a2c5e36fd6"),),
        parser="movietweetings", canonical_urls=("https://github.com/sidooms/MovieTweetings",),
        license=MOVIETWEETINGS_LICENSE, preprocessing=_FILTERED,
        min_user_actions=10, cold_start_items="none", stand_in_for="movietweetings",
        notes=("STAND-IN: the official snapshots/100K file (first 100,000 tweets, Feb-Sep 2013), "
               "filtered like the paper; the paper's Dec 2016 state is about 5x larger.")),
]

REGISTRY: dict = {spec.name: spec for spec in _SPECS}
PAPER_DATASETS = tuple(s.name for s in _SPECS if not s.is_stand_in)
STAND_INS = tuple(s.name for s in _SPECS if s.is_stand_in)
SYNTHETIC = "synthetic-planted"


def dataset_names() -> list:
    """The twelve paper data sets (paper order), then the stand-ins."""
    return list(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(dataset_names() + [SYNTHETIC])
        raise ValueError(f"unknown data set {name!r}; known data sets: {known}") from None
