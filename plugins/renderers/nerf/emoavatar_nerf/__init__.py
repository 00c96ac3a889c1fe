"""EmoHead's expression-conditioned NeRF renderer (``nerf``); see this distribution's README.

Light on purpose (the spec is imported through it): hashgrid, model, render, losses,
checkpoint, data, renderer and train import torch themselves.
"""
