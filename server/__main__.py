"""``python -m pyseus.server``: the bundled server (see ``pyseus.server.cli``)."""
from .cli import main

if __name__ == "__main__":
    main(prog="python -m pyseus.server")
