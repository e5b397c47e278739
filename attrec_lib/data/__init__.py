"""Data sets of the AttRec study: registry, download, parsing, preprocessing, Table 1.

Public API::

    load_dataset(name, tie_rule="stable") -> SequenceDataset
    dataset_names(), get_spec(name), is_available(name)
    table1(names=None) -> pandas.DataFrame
    split_leave_last_out, make_windows, ... (from .sequences)
"""
from .download import ChecksumError, RawFileMissingError, is_available
from .parsers import MalformedFileError
from .preprocess import EmptyDatasetError, load_dataset, load_processed
from .registry import REGISTRY, DatasetSpec, dataset_names, get_spec
from .sequences import SequenceDataset, Split, Windows, last_items, make_windows, split_leave_last_out
from .table1 import table1

__all__ = [
    "ChecksumError", "DatasetSpec", "EmptyDatasetError", "MalformedFileError",
    "REGISTRY", "RawFileMissingError", "SequenceDataset", "Split", "Windows", "dataset_names",
    "get_spec", "is_available", "last_items", "load_dataset", "load_processed", "make_windows",
    "split_leave_last_out", "table1",
]
