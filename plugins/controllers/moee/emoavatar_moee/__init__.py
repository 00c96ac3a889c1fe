"""MoEE (Liu et al.): emotion-to-latents + mixture of emotion experts, as the ``moee`` controller."""
