"""Command groups of the `fti` CLI, one module per pipeline."""
