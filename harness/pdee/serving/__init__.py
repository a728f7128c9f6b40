"""``pdee serve``: a workflow's HTTP trigger as a local server, one job per module.

- ``http_trigger``: the two pure translations, a request into the platform's event and
  a workflow's outcome into the caller's response.
- ``app``: the Starlette app that makes the events and answers.
- ``server``: uvicorn serving the app on a thread.
- ``request_queue``: the requests as the run's arrival source, on the real clock.
- ``handle``: ``serve_plan`` (``pdee.serve``'s body) and the ``Serving`` handle.

Only ``app`` and ``server`` import Starlette and uvicorn; ``handle`` loads them when a
server starts.
"""
