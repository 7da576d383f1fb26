"""Benchmarks: one command (`python -m bench [--quick]`), each against a baseline of the same run.

Every case runs in its own subprocess under a memory cap (the harness watches the resident
memory of the process tree and stops a case that exceeds it). Results go to bench/results/
as JSON; a full run of every case also rewrites BENCHMARKS.md.
"""
