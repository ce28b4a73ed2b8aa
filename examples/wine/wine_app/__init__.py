"""Preprocessing of the wine example: named measurements → the model's feature vector."""
