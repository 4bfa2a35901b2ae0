"""medbill: open-source medical billing and coding."""

__version__ = "0.1.0"
