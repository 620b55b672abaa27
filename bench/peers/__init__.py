"""Runner scripts, one per tool, each run by that tool's own interpreter (its venv).

They are scripts, not modules of the harness: ``python bench/peers/run_<tool>.py --port P``
speaks the JSON-lines protocol of :mod:`_proto` on stdin/stdout. Only :mod:`_proto`
(standard library only) is shared, through the script directory on ``sys.path``.
"""
