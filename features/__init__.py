"""Pure, typed raw-source readers and feature functions (no Prefect, no Feast)."""
