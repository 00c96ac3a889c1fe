"""emoavatar's default motion generator (``facs-rig``): a weight-free mixture of FACS emotion experts."""
