"""Views of vending results for the `sts` command: receipts, tables of keys, tariffs,
meters, vendors and operators, and the reports.

Each view returns rich renderables (as :class:`sts.console.output.Part` lists) or
text; cli.py prints them. Nothing here prints or reads the environment, and rich is
imported inside the functions that use it.
"""
