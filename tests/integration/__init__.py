"""Real builds on ../shared/data, the CLI in subprocesses, exports, trainers and browsers.

Every test here is marked ``slow`` (see tests/conftest.py); the default ``pytest`` run (CI) runs
them all.
"""
