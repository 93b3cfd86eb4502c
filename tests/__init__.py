"""Loket test suite."""
