"""Backends chosen from the settings: the embedding model and the language model."""
