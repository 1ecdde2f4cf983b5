"""One module per command besides ``run``: each loads settings, does its I/O and prints."""
