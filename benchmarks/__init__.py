"""Benchmarks of the upload anonymizer against the pydicom floor and peer tools."""
