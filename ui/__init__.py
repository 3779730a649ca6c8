"""The Streamlit dashboard: pages (``ui/pages``) call services (``ui/services``), the only door
to the analyzer; ``ui/state.py`` holds what Streamlit caches."""
