"""Interchange with other systems: de-identified export (HIPAA Safe Harbor), CSV and FHIR R4 import.

Pure functions over records: no database, no network. Modules import the standard library, ``medbill.core``
and (``fhir_import`` only) ``fhir.resources``.
"""
