"""Single source of the analyzer version, recorded with every result."""

__version__ = "0.2.0"
