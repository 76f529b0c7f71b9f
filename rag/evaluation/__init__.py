"""Evaluation: question sets, scoring and reports."""
