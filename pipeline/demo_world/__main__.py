"""``python -m pipeline.demo_world``: the generator's command line (``pipeline.demo_world.cli``)."""

from pipeline.demo_world.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
