"""``python -m spikeforge``: the command line."""

from .cli import main

raise SystemExit(main())
