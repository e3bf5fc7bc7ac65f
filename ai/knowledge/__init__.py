"""Retrieval over the seller's knowledge entries and the grounded reply built from the best one (pure)."""
