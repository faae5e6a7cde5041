"""``python -m dsnbench``: the same command line as the ``dsnbench`` script."""
import sys

from .cli import main

sys.exit(main())
