"""Dataset building for training: distortion library, I&2T builders, photo collection, FR labels."""
