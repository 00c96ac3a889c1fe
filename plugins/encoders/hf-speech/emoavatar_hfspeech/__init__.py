"""HuBERT-family speech features, audio-emotion features and aligned text features for emoavatar."""
