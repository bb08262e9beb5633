"""Pure physics of electronic analog circuits (crossbar arrays and their periphery)."""
