"""One machine, every core: the HTTP processes of ``serve --workers N`` and the process that
starts them and, embedded, holds the one writer of the data directory."""
