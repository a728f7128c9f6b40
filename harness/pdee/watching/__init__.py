"""``--watch`` and ``serve --reload``: what to watch and what a change means
(``targets``, pure), the watcher (``watcher``, the only module that imports
watchfiles), and the watch loop that runs a command again after each change
(``session``)."""
