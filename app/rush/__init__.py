"""The opening-day rush: an admission queue (virtual waiting room) in front of booking."""
