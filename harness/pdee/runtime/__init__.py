"""The runtime that runs inside an EE.

This subpackage is self-contained: it imports nothing but the standard library and
its own modules, because the image copies it alone (as ``pdee_runtime``) and runs
``python3 -m pdee_runtime``. The harness imports it as ``pdee.runtime`` only to unit
test it and to fingerprint the code baked into the image.

Processes inside an EE::

    docker-init (pid 1)
    └── supervisor        (this package's __main__; talks to pdee over stdin/stdout)
        ├── worker: step1 (one long-lived process per step, its own session)
        └── worker: step2
"""

PROTOCOL_VERSION = 1


def fingerprint() -> str:
    """A short hash of this runtime's code, baked into the image as a label.

    pdee compares it with its own copy of the runtime, so that an image built from
    older code is caught with a hint to run ``make image`` instead of misbehaving.
    """
    import hashlib
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as source:
                digest.update(name.encode() + b"\0" + source.read() + b"\0")
    return digest.hexdigest()[:16]
