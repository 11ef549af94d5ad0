"""Two models compared by what they compute: aligned, the same weights, the outputs, and where they part."""
