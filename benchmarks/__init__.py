"""fastembed's benchmarks against the incumbent implementations; run ``python -m benchmarks list``.

Each benchmark is a module here exposing ``NAME``, ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args, recorder)``, listed in the registry in ``__main__.py``; shared machinery is in
``harness.py``. Results go to ``benchmarks/results/`` (gitignored) as JSON lines.
"""
