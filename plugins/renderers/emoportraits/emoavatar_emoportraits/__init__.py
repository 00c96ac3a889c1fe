"""EMOPortraits (Drobyshev et al., CVPR 2024) for emoavatar: the stage-1 volumetric renderer that loads the
authors' released checkpoint, and motion generators for its latent space (``motion:emoportraits``)."""
