"""Start the ketabot chat page: `python app.py [--host HOST] [--port PORT]`.

Settings come from KETABOT_* variables and the clinic's ketabot.toml; see README.
"""

import sys

from ketabot.web_main import main

if __name__ == "__main__":
    sys.exit(main())
