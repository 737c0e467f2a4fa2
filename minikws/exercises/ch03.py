"""Exercises of chapter 3, back-propagation through time."""
