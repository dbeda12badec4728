from __future__ import annotations

from gossipper.cli.main import main

if __name__ == "__main__":
    main()
