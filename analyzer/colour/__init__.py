"""Colour: sRGB <-> linear <-> CIELAB (spaces), ColorChecker correction (chart) and card-free
white balance (balance)."""
