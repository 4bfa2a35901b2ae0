"""The ``medbill`` command line: a thin skin over ``medbill.services``."""
