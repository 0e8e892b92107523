"""stepeval: benchmark and evaluation harness for text-driven image-to-video models."""

__version__ = "0.1.0"
