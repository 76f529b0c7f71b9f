"""Answering: extractive answers, cited generation, question rewriting, follow-ups and
streaming."""
