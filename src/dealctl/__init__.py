"""dealctl: a local-first deal manager for the terminal."""

__version__ = "0.1.0"
