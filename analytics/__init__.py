"""Infusion Outcomes analytics: a pure pandas/numpy/statsmodels library.

No Streamlit here (a test checks it). Imports flow upward: instruments and schema at the
bottom; loading and validation; outcome derivation; statistics; charts; the command line.
"""

__version__ = "0.1.0"
