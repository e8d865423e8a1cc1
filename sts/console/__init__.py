"""What the `sts` command needs besides its click commands: option types, usage errors,
the lazy consoles, and views that turn token, meter and conformance results into rich
renderables.

cli.py imports these; nothing else in ``sts`` does. No module here prints or reads
the environment: views return renderables (as :class:`~sts.console.output.Part` lists)
and cli.py prints them. Nothing here imports ``vending`` (the arrows point one way),
and rich is imported inside the functions that use it, so that `sts --help` stays fast.
"""
