"""Preprocessing of the diabetes example: standardise ten baseline measurements."""
