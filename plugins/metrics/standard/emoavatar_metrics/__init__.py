"""Standard talking-head metrics for emoavatar (entry points in emoavatar_metrics.spec)."""
