"""Benchmarks of the script tracking system: `python -m bench [--quick] [--only ...]`.

Every figure is measured against a baseline taken in the same run, on a throwaway
PostgreSQL cluster that the benchmark starts itself (scripts/localpg.py settings).
"""
