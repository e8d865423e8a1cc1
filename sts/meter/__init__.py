"""The simulated STS keypad meter."""
