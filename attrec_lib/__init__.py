"""attrec_lib: a small PyTorch library for the reproducible study of AttRec (Zhang et al. 2018)."""

__version__ = "0.1.0"
