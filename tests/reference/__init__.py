"""Forward-equivalence reference data from torchvision and timm (see generate.py)."""
