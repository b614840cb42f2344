"""Diversity measures of parameter-vector sets (k-means distortion, distances, KS, PCA figures)."""
