"""Storage: reading articles, the lexical and n-gram indexes beside the Chroma vectors,
published together as one snapshot."""
