"""Node types: one module each, all behind the small contract in `base.py`."""
