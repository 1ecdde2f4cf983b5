"""autoskillit-trace: run a command as a supervised child and record its diagnostics."""

__version__ = "0.1.0"
