"""Prosody audio encoder for emoavatar: loudness, pitch, voicing, voice activity (numpy only)."""
