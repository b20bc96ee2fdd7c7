"""Decoding and encoding of photos and videos; knows nothing of faces."""
