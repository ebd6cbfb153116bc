"""The console: web pages served by ``wayfare serve`` at ``/``, one module per page, over the
same use cases as the admin API (``wayfare.registry``).

Shared parts: ``pages`` (the ``Console``: rendering a template inside ``base.html``, which
holds the navigation, and ``Console.page``, which wraps a handler with sign-in, the CSRF
check of changes and the org), ``session`` (the signed cookie, CSRF, forms), ``assets``
(the files shipped in ``static/``), ``flow`` (messages per minute) and ``routes`` (every
page's routes in one list).

A page is a module with ``routes(console) -> list[Route]``, its handlers taking
``(request, session, org, form)``, and its templates in ``templates/`` extending
``base.html`` (``macros.html`` has copy buttons, the CSRF field, times, field trees);
``routes.py`` adds it to the list."""
