"""Text analysis for three languages: normalisation, tokens, stems, language detection,
chunking, and reading sentences, figures and dates."""
