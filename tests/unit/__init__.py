"""Fast tests, one folder per stage of the compiler (config, read, templating, tokenize, plan,
write, build, inspect, consume, authoring, studio, cli): stage functions called directly on
literal rows, mostly with the word tokenizer of ``ftdata.testing``; no build. ``pytest tests/unit``
runs them in well under a minute.
"""
