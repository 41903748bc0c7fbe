"""python -m local_servers: see cli.py."""

from .cli import main

raise SystemExit(main())
