"""Helpers of the secret-leak test (tests/integration/test_secret_leaks.py); test equipment only."""
