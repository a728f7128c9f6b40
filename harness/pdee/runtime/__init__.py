"""The runtime that runs inside an EE.

This subpackage is self-contained: it imports nothing but the standard library and
its own modules, because the image copies it alone (as ``pdee_runtime``) and runs
``python3 -m pdee_runtime``. The harness imports it as ``pdee.runtime`` to unit test
it, to speak its protocol (``protocol``: the messages, their framing and version) and
to put it in the image (``pdee.provision.image``).

Processes inside an EE::

    docker-init (pid 1)
    └── supervisor        (this package's __main__; talks to pdee over stdin/stdout)
        ├── worker: step1 (one long-lived process per step, its own session)
        └── worker: step2
"""
