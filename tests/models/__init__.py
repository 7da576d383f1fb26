"""Unit tests of models/: preparation, splits, the gate, MLflow logging and the registry."""
