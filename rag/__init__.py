"""Natural-language queries over documents, logs and images."""
