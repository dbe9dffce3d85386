"""reliad: a reliability and backup daemon for Linux servers."""

__version__ = "0.1.0"
