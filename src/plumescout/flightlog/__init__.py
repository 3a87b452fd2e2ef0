"""Flight-log readers. Every reader returns :class:`plumescout.observations.Observations`."""

from .csv import read_flight_csv, write_flight_csv

__all__ = ["read_flight_csv", "write_flight_csv"]
