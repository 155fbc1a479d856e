"""Start the dashboard: ``python -m ui.serve [streamlit options]`` (what ``make run`` does).

Streamlit decides once per process whether a ``pages/`` folder beside the entry script means
its legacy multipage mode; if the first request of a fresh server is a deep link (``/data``)
that legacy mode runs the page file without ``app.py`` (no sidebar, no navigation) and stays
on. The app always uses ``st.navigation``, so the launcher switches that legacy mode off
before the server starts. ``streamlit run app.py`` works too, except for that first deep link.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str] | None = None) -> int:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    args = sys.argv[1:] if argv is None else argv
    app = args[0] if args and args[0].endswith(".py") else str(APP)
    rest = args[1:] if args and args[0].endswith(".py") else args
    sys.argv = ["streamlit", "run", app, *rest]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
