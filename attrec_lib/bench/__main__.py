"""``python -m attrec_lib.bench``: the speed benchmark (see :mod:`attrec_lib.bench.core`)."""
from .core import main

if __name__ == "__main__":
    main()
