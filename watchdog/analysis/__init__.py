"""Pure judging: samples + thresholds + baseline -> outcome per sample -> verdict.

No I/O, no clock, no globals: the live engine and `watchdog simulate` share it.
"""
