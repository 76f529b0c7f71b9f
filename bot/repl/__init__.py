"""The REPL: a terminal session that asks question after question with the index loaded once."""
