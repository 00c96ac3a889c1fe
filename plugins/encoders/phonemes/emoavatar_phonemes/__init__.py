"""Phonemes -> visemes audio encoder for emoavatar (PocketSphinx, no downloads)."""
