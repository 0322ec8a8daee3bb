"""Real time: the process-wide event bus over broadcaster, and its channel names."""
