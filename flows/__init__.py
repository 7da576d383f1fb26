"""Prefect flows: ingestion, features, materialization and the orchestrator."""
