"""Offline and private by default, for every library ketabot loads.

Imported first by the package, before Hugging Face, Chroma or Gradio read
their settings: nothing is downloaded at run time, no telemetry or analytics
is sent, no progress bars clutter a server log. An operator can still
override any of these in the environment.
"""

import os

DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_RUN_HISTORY": "False",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
