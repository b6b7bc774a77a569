"""The local web app of ``python -m intermask.serve``: one page that generates, shows and hands out results.

``jobs`` queues generation requests and answers them one at a time (no web library); ``server`` is the
Starlette application around it (the optional ``app`` extra); ``static/`` holds the page, served by the app
itself so that it works without a network.
"""
