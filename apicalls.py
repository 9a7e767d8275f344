"""`python apicalls.py --url URL`: call a running app's API and record what it returned.

A thin entry point: the work is `riskwatch apicalls` (pipeline/tools/apicalls.py).
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    main(["apicalls", *sys.argv[1:]])
