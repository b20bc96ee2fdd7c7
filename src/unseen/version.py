"""The package's version, in one place: the build reads it (pyproject's dynamic version), and so do
the regions file and the records, without importlib.metadata (about 25 ms of every run's start-up)."""

VERSION = "0.1.0"
