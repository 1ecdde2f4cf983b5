"""One module per command: each loads settings, does its I/O and prints (``run`` without click)."""
