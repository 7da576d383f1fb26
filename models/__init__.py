"""Training, evaluation and the promotion gate; the one package that talks to MLflow."""
