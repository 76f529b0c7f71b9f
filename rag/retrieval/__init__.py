"""Retrieval: the question's terms, the hybrid retriever and rank fusion."""
