"""``python -m analytics``: see :mod:`analytics.cli`."""

import sys

from analytics.cli import main
from analytics.runtime import tune_memory

tune_memory()
sys.exit(main())
