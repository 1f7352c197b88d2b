"""Data: distortion library and dataset builders."""
