"""Review: a local page where a person sees every region found, fixes it and exports.

The server (``server``) listens on 127.0.0.1 only, behind a random token; the page (``static/``)
is plain JavaScript and SVG shipped in the package. Every change is written to the regions file at
once (``session``), and the outputs are painted from it (:mod:`unseen.render`). Nothing outside the
command line imports this package.
"""
