"""Post-mortem stubs (Jinja2 Markdown) and their SVG charts.

Written at the verdict, updated in place, keeping what people wrote.
"""
