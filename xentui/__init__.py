"""xentui: get a XenServer / XCP-ng pool working again after its master dies.

Layers, each importable without the ones after it (tests/program/test_layering.py):
sim -> xapi -> host -> recovery -> ui, with cli on top.
"""

__version__ = "0.1.0"
