"""fti-platform: feature, training and inference pipelines around Feast and MLflow."""

__version__ = "0.1.0"
