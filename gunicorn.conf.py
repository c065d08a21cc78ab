"""gunicorn settings for production: ``gunicorn 'leads:create_app()'`` reads this file.

Every value can be changed from the environment without editing it.

- ``workers``: (2 x cores) + 1 processes, gunicorn's own starting point. Each
  process is independent, so any number can run on any number of machines
  behind a load balancer; the app keeps no state between requests.
- ``worker_class = "gthread"`` with 8 threads: a request spends part of its
  time waiting on the database and Redis, and a thread covers that wait; the
  threads also keep client (or proxy) connections alive between requests. A
  sign-in waiting for a hashing slot holds a thread too (at most 1 +
  ``LOGIN_HASH_QUEUE`` per process), so there are threads left for pages
  during a sign-in storm; a thread that waits on a lock costs little.
- No ``max_requests``: recycling a process throws away its warm caches and
  costs a second of CPU to boot the next one; there is no leak to guard against.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
keepalive = 5
timeout = 30
graceful_timeout = 30
# Behind a proxy: trust its X-Forwarded-* headers only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Newer gunicorn opens a control socket in the home folder; nothing here uses it.
control_socket_disable = True
