"""`python fullprocess.py` = one riskwatch run, as `riskwatch run`; extra arguments pass on."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    main(["run", *sys.argv[1:]])
