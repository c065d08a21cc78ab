"""What gunicorn serves during the benchmarks: the real app, plus the bare
baselines under ``/_bench``: ``gunicorn bench.wsgi:app``."""

from __future__ import annotations

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bench.bare import create_bare_app
from leads import create_app

app = DispatcherMiddleware(create_app(), {"/_bench": create_bare_app()})
