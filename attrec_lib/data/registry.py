"""The registry of the paper's twelve data sets, the two labelled stand-ins and the synthetic set.

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

Each paper data set's spec also holds what the study needs to know about it: the paper's
settings for it (:class:`RunSettings`: L, T and the regulariser, from the paper's
Implementation Details) and its row of the paper's Table 1 (:class:`Table1Row`). Adding a data
set is one :func:`register` call (or one entry in ``_SPECS``); nothing else matches names.

Stand-ins (``stand_in_for`` set) are *not* the paper's data and are never reported under the
paper's name; they run with the settings of the set they stand in for and are compared with its
numbers, and the ablations (Tables 3-5, Figures 3-5) run a missing paper set's stand-in, or its
``ablation_substitute``, in its place: ``ml-1m-first2999`` (the exact prefix of the official ML-1M ``ratings.dat``,
users 1-2999) and ``movietweetings-snapshot-100k`` (the official first-100K-tweets snapshot of
2013, where the paper used the Dec 2016 state).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from .synthetic import planted_sequences

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
class RunSettings:
    """The paper's per-data-set settings (Implementation Details), given to every model that has
    the field: MovieLens L=5, T=3 with L2; MovieTweetings L=3, T=1; the others L=2, T=1. The sparse
    sets (Amazon, LastFM, MovieTweetings) use norm clipping of X, V, U (Eq. 12) instead of L2."""

    seq_len: int  # L
    n_targets: int  # T
    reg_mode: str  # AttRec's regulariser: "l2_batch" or "norm_clip"

    def as_fields(self) -> dict:
        return {"seq_len": self.seq_len, "n_targets": self.n_targets, "reg_mode": self.reg_mode}


MOVIELENS_SETTINGS = RunSettings(seq_len=5, n_targets=3, reg_mode="l2_batch")
MOVIETWEETINGS_SETTINGS = RunSettings(seq_len=3, n_targets=1, reg_mode="norm_clip")
SPARSE_SETTINGS = RunSettings(seq_len=2, n_targets=1, reg_mode="norm_clip")


class Table1Row(NamedTuple):
    """One row of the paper's Table 1, typed from the paper text (density and actions/user as
    printed, rounded)."""

    users: int
    items: int
    interactions: int
    density_pct: float
    actions_per_user: float
    time_interval: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # our name, used by load_dataset()
    paper_name: str  # the row label in the paper's Table 1 ("" for stand-ins and generated sets)
    files: tuple  # tuple[RawFile, ...]; the first one holds the interactions (() for a generated set)
    parser: str  # a key of attrec_lib.data.parsers.PARSERS ("" for a generated set)
    canonical_urls: tuple  # human-facing download pages / files
    license: str
    preprocessing: str  # the paper's preprocessing, in words
    min_user_actions: int = 0  # keep users with at least this many rows (0: no filter)
    cold_start_items: str = "none"  # see module docstring
    dedup_keys: tuple = ()  # columns that define a duplicate row; () keeps every row
    stand_in_for: str | None = None  # the paper data set this one approximates, if a stand-in
    notes: str = ""  # our choices where the paper is silent, and why
    parser_options: dict = field(default_factory=dict, hash=False)
    settings: RunSettings | None = None  # the paper's L, T, regulariser here (None: a stand-in: its paper set's)
    paper_table1: Table1Row | None = None  # the paper's Table 1 row (None: not one of the paper's sets)
    ablation_substitute: str | None = None  # run in the ablations when this set is missing (default: its stand-in)
    generate: Callable | None = None  # () -> SequenceDataset, for a set generated instead of read from files

    @property
    def is_stand_in(self) -> bool:
        return self.stand_in_for is not None

    @property
    def is_generated(self) -> bool:
        return self.generate is not None

    @property
    def mirror_folder(self) -> str:
        return self.files[0].mirror_path.split("/")[0]


_ML_PREPROCESS = "explicit ratings -> implicit (every rating kept); no filtering (paper: MovieLens unfiltered)"
_FILTERED = ("explicit ratings -> implicit (every rating kept); keep users with >= 10 actions; "
             "remove cold-start items")
_AMAZON_NOTE = ("Ratings-only CSV of the 2014 Amazon data. Timestamps are at day granularity, so "
                "ties are frequent and broken by raw file order. Every (user, item) row kept.")


def _amazon(name: str, paper_name: str, category: str, table1: Table1Row, **extra) -> DatasetSpec:
    fname = f"ratings_{category}.csv"
    url = f"http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/{fname}"
    return DatasetSpec(
        name=name, paper_name=paper_name,
        files=(RawFile(fname, f"{name}/{fname}", url),),
        parser="amazon_csv",
        canonical_urls=(url, "http://jmcauley.ucsd.edu/data/amazon/links.html"),
        license=AMAZON_LICENSE, preprocessing=_FILTERED,
        min_user_actions=10, cold_start_items="none", notes=_AMAZON_NOTE, settings=SPARSE_SETTINGS,
        paper_table1=table1, **extra)


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
               "timestamp, so the test item depends on the tie rule (see load_dataset)."),
        settings=MOVIELENS_SETTINGS, paper_table1=Table1Row(943, 1682, 100000, 6.30, 106.04, "Sept/1997 - Apr/1998")),
    DatasetSpec(
        name="ml-hetrec", paper_name="ML-HetRec",
        files=(RawFile("user_ratedmovies-timestamps.dat", "ml-hetrec/user_ratedmovies-timestamps.dat",
                       "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-movielens-2k-v2.zip",
                       archive_member="user_ratedmovies-timestamps.dat"),),
        parser="hetrec_ratings",
        canonical_urls=("https://files.grouplens.org/datasets/hetrec2011/hetrec2011-movielens-2k-v2.zip",),
        license=HETREC_LICENSE, preprocessing=_ML_PREPROCESS,
        notes=("Timestamps are milliseconds; converted to whole seconds (the values come from "
               "MovieLens-10M second timestamps). The paper's 2113/10109/855,598 are the raw counts."),
        settings=MOVIELENS_SETTINGS, paper_table1=Table1Row(2113, 10109, 855598, 4.01, 404.92, "Sept/1997 - Jan/2009")),
    DatasetSpec(
        name="ml-1m", paper_name="ML-1M",
        files=(RawFile("ratings.dat", "ml-1m/ratings.dat",
                       "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
                       archive_member="ml-1m/ratings.dat"),),
        parser="ml1m", canonical_urls=("https://files.grouplens.org/datasets/movielens/ml-1m.zip",),
        license=GROUPLENS_LICENSE, preprocessing=_ML_PREPROCESS,
        notes="Sorted by user only, not by time; order within a user comes from the timestamps.",
        settings=MOVIELENS_SETTINGS, paper_table1=Table1Row(6040, 3706, 1000209, 4.46, 165.57, "Apr/2000 - Mar/2003")),
    _amazon("amazon-apps-for-android", "Android App", "Apps_for_Android",
            Table1Row(21309, 19256, 358877, 0.087, 16.84, "Mar/2010 - Jul/2014")),
    _amazon("amazon-health-personal-care", "Health / Care", "Health_and_Personal_Care",
            Table1Row(11588, 31709, 211284, 0.058, 18.23, "Dec/2000 - Jul/2014")),
    _amazon("amazon-video-games", "Video Game", "Video_Games",
            Table1Row(7220, 16334, 140307, 0.119, 19.43, "Nov/1999 - Jul/2014")),
    _amazon("amazon-tools-home-improvement", "Tools / Home", "Tools_and_Home_Improvement",
            Table1Row(5855, 23620, 96467, 0.070, 16.48, "Nov/1999 - Jul/2014")),
    _amazon("amazon-digital-music", "Digital Music", "Digital_Music",
            Table1Row(2893, 13183, 64320, 0.169, 22.23, "May/1998 - Jul/2014"), ablation_substitute="lastfm"),
    _amazon("amazon-patio-lawn-garden", "Garden", "Patio_Lawn_and_Garden",
            Table1Row(1036, 4900, 15576, 0.307, 15.03, "Apr/2000 - Jul/2014"), ablation_substitute="lastfm"),
    _amazon("amazon-instant-video", "Instant Video", "Amazon_Instant_Video",
            Table1Row(1000, 3296, 15849, 0.481, 15.85, "Aug/2000 - Jul/2014")),
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
               "granularity, ties broken by raw file order. 5 rows with bogus years are kept."),
        settings=SPARSE_SETTINGS, paper_table1=Table1Row(951, 12113, 83382, 0.724, 87.68, "Aug/2005 - May/2011")),
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
               "state, which has grown since. Movie ids are zero-padded strings."),
        settings=MOVIETWEETINGS_SETTINGS,
        paper_table1=Table1Row(9608, 14220, 461970, 0.338, 48.08, "Mar/2013 - Dec/2016")),
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

SYNTHETIC = "synthetic-planted"
_SPECS.append(DatasetSpec(
    name=SYNTHETIC, paper_name="", files=(), parser="", canonical_urls=(), license="generated here",
    preprocessing="none: generated sequences (attrec_lib.data.synthetic.planted_sequences)",
    settings=RunSettings(seq_len=3, n_targets=2, reg_mode="l2_batch"), generate=planted_sequences,
    notes="Not data: 200 users walking a hidden item cycle, for tests and the tiny profile."))

REGISTRY: dict = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a data set to the registry, checking that the study can use it."""
    problems = []
    if spec.name in REGISTRY:
        problems.append("a data set of that name is already registered")
    if spec.is_generated == bool(spec.files):
        problems.append("needs either raw files (files, parser) or a generator (generate), not both")
    if spec.is_stand_in:
        paper = REGISTRY.get(spec.stand_in_for)
        if paper is None or paper.settings is None:
            problems.append(f"stand_in_for={spec.stand_in_for!r} is not a registered data set with settings")
    elif spec.settings is None:
        problems.append("settings (L, T, regulariser) are required unless the set is a stand-in")
    if problems:
        raise ValueError(f"data set {spec.name!r}: " + "; ".join(problems))
    REGISTRY[spec.name] = spec
    return spec


for _spec in _SPECS:
    register(_spec)
PAPER_DATASETS = tuple(s.name for s in _SPECS if s.paper_table1 is not None)  # the paper's twelve, paper order
STAND_INS = tuple(s.name for s in _SPECS if s.is_stand_in)


def dataset_names() -> list:
    """The data sets read from raw files: the twelve paper sets (paper order), the stand-ins, then
    any registered later. Generated sets (the synthetic one) are registered but not listed here."""
    return [name for name, spec in REGISTRY.items() if not spec.is_generated]


def get_spec(name: str) -> DatasetSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise ValueError(f"unknown data set {name!r}; known data sets: {known}") from None


def paper_set(name: str) -> str:
    """The data set whose paper numbers and settings apply: the paper set of a stand-in, else itself."""
    return get_spec(name).stand_in_for or name


def run_settings(name: str) -> dict:
    """The paper's settings for a data set (a stand-in's are its paper set's) as config fields."""
    return get_spec(paper_set(name)).settings.as_fields()


def ablation_replacement(name: str) -> str | None:
    """What the ablations run in place of paper set ``name`` when it is missing: its
    ``ablation_substitute``, else its (first) stand-in, else None."""
    spec = get_spec(name)
    stand_ins = [s.name for s in REGISTRY.values() if s.stand_in_for == name]
    return spec.ablation_substitute or (stand_ins[0] if stand_ins else None)
