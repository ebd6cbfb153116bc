"""The console: web pages served by ``wayfare serve`` at ``/``, one module per page, over the
same use cases as the admin API (``wayfare.registry``). Shared parts: ``session`` (sign-in,
CSRF, the org), ``templates`` (Jinja2 and the base page with the navigation), ``assets``
(the files shipped in ``static/``) and ``routes`` (every page's routes in one list)."""
