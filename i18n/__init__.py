"""One source, two languages: the Chinese chapters are built from the English notebooks plus gettext catalogs.

The English notebooks (notebooks/*.ipynb) are the only source of code and outputs. Their markdown prose is
cut into paragraphs (paragraphs.py), each paragraph a msgid in a per-chapter PO catalog
(locale/<lang>/LC_MESSAGES/<chapter>.po, catalogs.py); the translated notebooks (notebooks/<lang>/) are
built by copying every code cell with its outputs, and replacing each paragraph by its translation
(build.py); in code cells only the comments (comments.py) and printed labels (printed.py, in the code and
its output together) are replaced. `python -m i18n check` fails on a missing or fuzzy entry of a chapter declared
translated (locale/<lang>/TRANSLATED). See docs/translating.md and docs/decisions/0014-translations.md.
"""
