"""``python -m attrec_lib ...``: the study's command line (:mod:`attrec_lib.report.cli`)."""
from .report.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
