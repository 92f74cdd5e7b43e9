"""The screens of the console UI (one module each)."""
