"""``python -m labutils doctor | run | report | data | freeze | sync-notebooks``: see :mod:`labutils.tools.cli`."""
import sys

from labutils.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
