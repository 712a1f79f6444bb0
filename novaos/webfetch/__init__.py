"""webfetch."""
