"""Exercises of chapter 5, AdamW."""
