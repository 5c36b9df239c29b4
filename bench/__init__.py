"""Benchmarks of the connector against the Cliniko simulator and a moto server on loopback (`make bench`).

Run `python -m bench`; it prints a table and writes the same figures to `.bench/results.json`.
See docs/benchmarks.md for what each figure means and the numbers measured on the dev container.
"""
