"""``python -m bench``: see :mod:`bench` and :mod:`bench.run`."""

from analytics.runtime import tune_memory
from bench.run import main

tune_memory()  # as the dashboard and the command line do: measured as they run
raise SystemExit(main())
