"""Keeping the archive whole: sweeping crash leftovers, checking the archive against the index."""
