"""Registration point for the later stages (each in its own module)."""
