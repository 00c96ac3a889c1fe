"""The web UI (`emoavatar ui`); Gradio is imported only by :mod:`.app`."""
