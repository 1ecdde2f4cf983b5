"""The HTML report: one self-contained page per session, and a static site of the store.

downsample.py keeps long series small without losing a peak, charts.py draws
SVG, lane.py reads the agent's timeline from events.jsonl, load.py reads a
session folder, html.py makes the page of one session and site.py the folder
of pages.  Everything but load.py and site.py is pure.  Imported only by
``show --html``, ``report`` and the ``html_report`` export of ``run``.
"""
