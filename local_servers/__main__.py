"""python -m local_servers: see cli.py."""

import sys

from .cli import main

sys.exit(main())
