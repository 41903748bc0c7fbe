"""The course's website: both editions, read-only, built by Sphinx + MyST-NB from the executed notebooks.

`python -m book` (or `python3 course.py book`) stages each edition's pages (book/stage.py) and builds them,
the English edition at the site's root and the Chinese one, interface in Chinese too, in zh/, with warnings
as errors (broken internal links and anchors fail the build; external links are never fetched) and says
where to open the result. See docs/decisions/0014-translations.md for why Sphinx + MyST-NB.
"""
