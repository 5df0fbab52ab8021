"""The outermost layer, translation only: the web API (litestar: JSON under ``/api/v1``,
OpenAPI at ``/schema``), the web console, users, sessions and the audit log (``api/app``), and
the ``zhida`` command line (``api/commands``).

A request, a console form or a command line becomes a call to a lower package, and its result
a response, a page or printed lines; what could be decided below is decided below (DESIGN.md).
"""
