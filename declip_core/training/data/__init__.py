"""Dataset building for training (photo collection, labels)."""
