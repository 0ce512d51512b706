"""certsvc: issue and verify electronic professional-title documents."""

__version__ = "0.1.0"
