"""`make bench`: figures from one run on this machine, printed as one table and saved as JSON.

Not a pytest suite (no file here is named test_*): benchmarks assert nothing about time; they
measure, say under which conditions, and leave the judging to whoever reads them.
"""
