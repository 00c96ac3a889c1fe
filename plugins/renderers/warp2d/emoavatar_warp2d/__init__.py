"""Piecewise-affine 2D landmark warp renderer for emoavatar."""
