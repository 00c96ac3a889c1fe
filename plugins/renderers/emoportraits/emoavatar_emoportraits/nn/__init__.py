"""Our implementation of the EMOPortraits stage-1 networks (torch)."""
