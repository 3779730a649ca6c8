"""Face: landmarks (MediaPipe + model resolution), regions (masks, skin, px/mm), quality gate."""
