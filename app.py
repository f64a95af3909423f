"""Start the ketabot chat page: `python app.py [--host HOST] [--port PORT] [--config FILE]`.

The same start as `ketabot serve`. Settings come from KETABOT_* variables and the
clinic's ketabot.toml; see README.
"""

import sys

from ketabot.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
