"""Streamlit glue shared by pages: state keys, cached wrappers, sidebar, widgets."""
