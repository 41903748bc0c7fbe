"""Heading anchors as JupyterLab makes them ("Labs-and-grading"), so one link works in JupyterLab and on the site."""

import re


def jupyter_anchor(text: str) -> str:
    return re.sub(r"\s+", "-", text.strip())
