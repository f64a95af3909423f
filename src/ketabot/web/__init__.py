"""The chat page: ``render`` (pure HTML), ``app`` (the Gradio page), ``serve`` (starting it).

Only this package imports Gradio; a CLI or Python user who never serves never loads it.
"""
