"""``python -m analytics``: see :mod:`analytics.cli`."""

import sys

from analytics.cli import main
from analytics.runtime import keep_freed_memory

keep_freed_memory()
sys.exit(main())
