"""Command-line front ends of the training tools (`training/<name>.py` are thin shims)."""
