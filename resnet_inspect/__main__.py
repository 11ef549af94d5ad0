"""The command line run as ``python -m resnet_inspect``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
