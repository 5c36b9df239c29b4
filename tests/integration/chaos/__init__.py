"""Helpers of the chaos test (`tests/integration/test_chaos.py`): the seeded workload and the fault harness."""
