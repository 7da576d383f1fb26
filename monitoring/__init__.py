"""Monitoring math: drift statistics and range checks as pure functions (no I/O)."""
