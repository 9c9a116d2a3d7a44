"""Helpers of the fault-injection suite (tests/integration/test_faults.py); test equipment only."""
