"""Fitting the morphable model to photos: landmarks, pose, shape, texture, and overlays in the photo's pose."""
