"""Auto-dial (A1–A6, M6, M7, B2, B3, B10, B11, B17): the dial lists and the dialer around
the pure state machine in agent/core/dialer.py."""
