"""Shared test fixtures. Real servers on 127.0.0.1 port 0; only the clock is faked."""
