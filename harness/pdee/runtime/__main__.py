"""``python3 -m pdee_runtime``: the EE's supervisor."""

from .supervisor import main

main()
