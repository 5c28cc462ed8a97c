"""Template studio: a local web page to write templates against real rows.

``ftdata studio TEMPLATES --source FILE`` serves one page on 127.0.0.1: the template list,
an editor with syntax errors at their line, the rendered prompt and completion for a row of
the source, the tokens a build would train (highlighted), lint results, and a save button
that writes the YAML back changing only the edited templates.

* :mod:`ftdata.studio.session` — the state and the engine calls (no HTTP);
* :mod:`ftdata.studio.views` — what the page shows and edits: drafts, rendered views, tokens,
  problems (plain data);
* :mod:`ftdata.studio.app` — the ASGI app (Starlette, served by uvicorn) and its guards:
  a session token on every request, a Host-header check, POST for every change;
* ``assets/`` — the page template, its CSS and its JavaScript (no build step, no framework).
"""
